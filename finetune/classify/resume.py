"""`wood finetune classify --resume`: epoch checkpoints of an unfinished run, kept beside its run folder.

The run folder appears only when training is complete (wood.outdir.atomic_output), so an unfinished
run keeps its checkpoints in a hidden sibling, ``<out>/.wood-resume-<name>/``, marked as wood's own
(kind ``classify-resume``)::

    epoch-<k>/     accelerator.save_state after epoch k (of all phases): model, optimizer, loss scaler,
                   every process's RNG states (dropout)
    progress.pt    the last complete epoch-<k>, the phase and epoch reached, the history so far, the
                   state of the epoch-order/augmentation generator, the number of processes and the
                   config; written (atomically) after the state, so a kill at any instant leaves the
                   previous complete checkpoint in force

The folder is removed once the run folder is complete. ``--resume`` continues ``<out>/<name>`` from
it with the same config (``--device`` aside) and the same number of processes; the phase-aware loop
(:func:`wood.finetune.classify.train.fit`) prepares the phase it stopped in, loads the state into it
and trains the epochs left. A run started again without ``--resume`` discards the checkpoint.
On several nodes, resume needs ``--out`` on a shared file system (every process reads its own state).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from wood.config import config_to_dict
from wood.errors import ConfigError, DataError, MisMatchError
from wood.outdir import foreign_entries, remove_tree, write_marker

KIND = "classify-resume"
PROGRESS = "progress.pt"
FILLS = ("epoch-*", PROGRESS, PROGRESS + ".tmp")
"""What the trainer writes into its checkpoint folder (and so all that counts as wood's there after a kill)."""
FREE_FIELDS = ("resume", "exist_ok", "device", "out", "name")
"""Config fields a resumed run may change; every other one must equal the interrupted run's."""


def resume_dir(final: Path) -> Path:
    """Where the checkpoints of the run folder ``final`` live while it is unfinished."""
    return final.parent / f".wood-resume-{final.name}"


def _ours(folder: Path) -> bool:
    return folder.is_dir() and foreign_entries(folder, KIND) == []


def start_fresh(folder: Path) -> bool:
    """Create an empty checkpoint folder (main process); an old one of wood's is discarded (returns True).
    Anything else at that path is a DataError, left alone."""
    discarded = False
    if folder.exists() or folder.is_symlink():
        if folder.is_symlink() or not _ours(folder):
            raise DataError("not a checkpoint folder wood wrote; move it away", folder)
        remove_tree(folder)
        discarded = True
    folder.mkdir(parents=True)
    write_marker(folder, KIND, state="building", open_=True, fills=FILLS)
    return discarded


def finish(folder: Path) -> None:
    """The run folder is complete: its checkpoints go (main process)."""
    if _ours(folder):
        remove_tree(folder)


def save(accelerator, folder: Path, record: dict[str, Any]) -> None:
    """Checkpoint after an epoch (every process calls it): the Accelerate state, then progress.pt."""
    import torch

    epoch = len(record["history"])
    state = folder / f"epoch-{epoch}"
    accelerator.save_state(str(state))
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        tmp = folder / (PROGRESS + ".tmp")
        torch.save({**record, "state": state.name}, tmp)
        tmp.replace(folder / PROGRESS)
        for old in folder.glob("epoch-*"):
            if old.name != state.name:
                remove_tree(old)
    accelerator.wait_for_everyone()


def progress_record(cfg, processes: int, phase: int, epochs_done: int, history, phase_log, generator):
    """What progress.pt holds (besides the state folder's name)."""
    return {
        "phase": phase,
        "epochs_done": epochs_done,
        "history": list(history),
        "phase_log": list(phase_log),
        "generator": generator.get_state(),
        "processes": processes,
        "config": config_to_dict(cfg),
    }


def load(folder: Path, final: Path, cfg, processes: int) -> dict[str, Any]:
    """The checkpoint to continue from; one line (exit 2) when there is none, or the config or the number
    of processes differs from the interrupted run's."""
    import torch

    path = folder / PROGRESS
    if not path.is_file() or not _ours(folder):
        done = "the run finished" if final.is_dir() else "no unfinished run of that name"
        raise ConfigError(f"nothing to resume: {done}; drop --resume to start a new run", final)
    try:
        record = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable file: not resumable
        raise DataError(f"cannot read the checkpoint ({exc.__class__.__name__}); drop --resume", path) from exc
    if record["processes"] != processes:
        raise MisMatchError(
            f"--resume: this run was trained with {record['processes']} process(es), this launch has {processes}; "
            f"resume it with {record['processes']} or start a new run",
            final,
        )
    now, then = config_to_dict(cfg), record["config"]
    changed = sorted(k for k in set(now) | set(then) if k not in FREE_FIELDS and now.get(k) != then.get(k))
    if changed:
        raise MisMatchError(
            f"--resume: {', '.join(changed)} differ(s) from the interrupted run "
            f"({', '.join(f'{k}={then.get(k)!r}' for k in changed)}); resume with the same options",
            final,
        )
    if not (folder / record["state"]).is_dir():
        raise DataError("the checkpoint's state folder is missing; drop --resume", folder)
    return {**record, "state_dir": folder / record["state"]}
