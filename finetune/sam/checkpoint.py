"""SAM run checkpoints for ``--resume``: Accelerate's state plus wood's own small record, replaced atomically.

Layout inside the run folder::

    checkpoints/last.pt          wood's record: epoch, metrics, world size, updates, every process's numpy
                                 Generator state, and the name of the state folder it belongs to
    checkpoints/state-NNNN/      accelerator.save_state after epoch NNNN: the trainable parameters
                                 (model.safetensors), optimizer, scheduler, loss scaler, torch RNGs per process

Every process calls :func:`save_checkpoint` (Accelerate writes its per-process RNG files). The state is
written into ``checkpoints/.state-NNNN.tmp``, then the main process alone renames it to ``state-NNNN``,
replaces last.pt (write to last.tmp, then rename) and removes the older state folders. last.pt names its
folder, so after a kill at any instant last.pt and the folder it names are a complete pair: the new
one, or the previous one.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import torch

from wood.errors import ConfigError, MisMatchError
from wood.runs import write_metrics_json

LAST = "last.pt"
STATE_PREFIX = "state-"


def read_last(run_dir: Path) -> dict[str, Any]:
    """wood's record of the run's last checkpoint (checkpoints/last.pt)."""
    path = Path(run_dir) / "checkpoints" / LAST
    record = torch.load(path, map_location="cpu", weights_only=False)
    if not isinstance(record, dict) or "state" not in record or "world_size" not in record:
        raise ConfigError("checkpoint written by an older wood (no accelerate state); start a new run", path)
    return record


def check_world_size(run_dir: Path, processes: int) -> None:
    """MisMatchError (before anything changes) when the run was trained with another number of processes:
    its optimizer state, shards and random streams belong to that number."""
    saved = int(read_last(run_dir)["world_size"])
    if saved != processes:
        raise MisMatchError(
            f"--resume: this run was trained with {saved} process(es), this launch has {processes}; "
            f"resume it with {saved} (accelerate launch --num_processes {saved}) or start a new run",
            Path(run_dir) / "checkpoints" / LAST,
        )


def save_checkpoint(acc: Any, run_dir: Path, trainer: Any, epoch: int, metrics: dict[str, Any]) -> None:
    """checkpoints/ after ``epoch`` (0-based) and metrics.json; call it on EVERY process."""
    from accelerate.utils import gather_object

    folder = Path(run_dir) / "checkpoints"
    name = f"{STATE_PREFIX}{epoch + 1:04d}"
    tmp = folder / f".{name}.tmp"
    if acc.is_main_process:
        folder.mkdir(exist_ok=True)
        if tmp.exists():
            shutil.rmtree(tmp)  # a killed earlier attempt of this run
    acc.wait_for_everyone()
    acc.save_state(str(tmp))
    rngs = gather_object([trainer.rng_state()])
    acc.wait_for_everyone()
    if acc.is_main_process:
        if (folder / name).exists():
            shutil.rmtree(folder / name)  # renamed before a kill, but last.pt never named it
        tmp.rename(folder / name)
        record = {
            "state": name,
            "epoch": epoch,
            "metrics": metrics,
            "world_size": acc.num_processes,
            "updates": trainer.updates,
            "rng": rngs,
        }
        torch.save(record, folder / "last.tmp")
        (folder / "last.tmp").replace(folder / LAST)
        for old in folder.glob(f"{STATE_PREFIX}*"):
            if old.name != name and old.is_dir():
                shutil.rmtree(old)
        write_metrics_json(run_dir, "sam", metrics)
    acc.wait_for_everyone()


def load_checkpoint(acc: Any, run_dir: Path, trainer: Any) -> tuple[dict[str, Any], int]:
    """(metrics, next epoch) of the run's last checkpoint, with ``trainer`` and ``acc`` restored to it."""
    record = read_last(run_dir)
    check_world_size(run_dir, acc.num_processes)
    acc.load_state(str(Path(run_dir) / "checkpoints" / record["state"]))
    trainer.set_rng_state(record["rng"][acc.process_index])
    trainer.updates = int(record["updates"])
    return record["metrics"], int(record["epoch"]) + 1
