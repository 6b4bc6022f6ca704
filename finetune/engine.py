"""The training engine wood's SAM and classification trainers share: Hugging Face Accelerate.

:func:`make_accelerator` turns wood's options (``--precision``, ``--accumulate``, ``--device``,
``--seed``) into an ``accelerate.Accelerator``, checking first what the device can do (one
ConfigError line instead of a traceback deep inside a step).

One process (``wood finetune ...``): ``--device`` chooses the device as everywhere in wood.
Under a launcher (``accelerate launch``, ``torchrun``: the environment says ``WORLD_SIZE`` > 1)
the launcher chooses: every process takes its own GPU (``LOCAL_RANK``), or the CPU (DDP over gloo) with
``--device cpu``, ``ACCELERATE_USE_CPU`` or no GPU in sight; ``--device`` may then only be ``auto``, ``cuda``
or ``cpu``.

Seeding: every process calls ``accelerate.utils.set_seed(seed)`` with the SAME seed, so the DDP
replicas are built identically (DDP broadcasts rank 0's weights at ``prepare`` anyway) and a
shuffle drawn from the seed is the same everywhere. Processes differ by the slice of each global
batch they take (:func:`shard`), and a trainer that needs per-process randomness (prompt jitter,
flips) seeds its own generator with :func:`process_seed`.

Accelerate keeps its state in process-wide singletons. In a single process each
:func:`make_accelerator` call starts from a clean state (tests and ``wood demo`` train several
times in one process, with other precisions and devices); under a launcher the process group is
kept and only the precision/accumulation state is renewed.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from wood.device import check_device, parse_device
from wood.errors import ConfigError

if TYPE_CHECKING:
    import accelerate

T = TypeVar("T")

PRECISIONS = ("fp32", "bf16", "fp16")
"""``--precision``: fp32 (no autocast), bf16 or fp16 autocast (fp16 with a loss scaler; GPUs only)."""

MIXED_PRECISION = {"fp32": "no", "bf16": "bf16", "fp16": "fp16"}
"""wood's precision names -> ``Accelerator(mixed_precision=...)``."""

PRECISION_HELP = "fp32, or autocast in bf16 (CPU and recent GPUs) or fp16 (GPUs, with a loss scaler); weights stay fp32"


def world_size() -> int:
    """Processes of this run as the launcher says (``WORLD_SIZE``; 1 without a launcher)."""
    try:
        return max(1, int(os.environ.get("WORLD_SIZE", "1")))
    except ValueError:
        return 1


def launched() -> bool:
    """Whether a launcher (accelerate launch, torchrun) started several processes."""
    return world_size() > 1


def is_main_process(accelerator: Any) -> bool:
    """Whether this process writes the run folder, metrics and checkpoints (global rank 0)."""
    return bool(accelerator.is_main_process)


def process_seed(seed: int, accelerator: Any) -> int:
    """The seed of this process's own random generator: ``seed`` on rank 0 (one process reproduces a
    single-process run exactly), ``seed + rank`` elsewhere (other prompts/augmentations per process)."""
    return int(seed) + int(accelerator.process_index)


def _device_kind(device: str) -> tuple[bool, str | None]:
    """(cpu flag for Accelerator, explicit torch device or None) for wood's ``device`` string."""
    if launched():
        kind, indices = parse_device(device)
        if kind == "mps" or indices:
            raise ConfigError(
                f"device {device!r}: under accelerate launch / torchrun the launcher gives each process its "
                "GPU; use --device auto (or CUDA_VISIBLE_DEVICES to choose the GPUs)"
            )
        import torch

        use_cpu = os.environ.get("ACCELERATE_USE_CPU", "false").lower() in ("1", "true", "yes")
        return kind == "cpu" or use_cpu or not torch.cuda.is_available(), None  # no GPU: DDP over gloo
    resolved = check_device(device)
    if resolved in (None, "auto"):
        import torch

        resolved = "cuda" if torch.cuda.is_available() else "cpu"
    return resolved == "cpu", resolved


def check_precision(precision: str, device_type: str) -> None:
    """ConfigError (one line) when ``precision`` is unknown or ``device_type`` (cpu | cuda | mps) cannot run it."""
    if precision not in PRECISIONS:
        raise ConfigError(f"precision must be one of {list(PRECISIONS)}, but got {precision!r}")
    if precision == "fp16" and device_type == "cpu":
        raise ConfigError("precision fp16 needs a GPU (torch has no fp16 autocast with a loss scaler on CPU); use bf16")
    if precision == "bf16" and device_type == "cuda" and not bf16_supported():
        raise ConfigError("precision bf16: this CUDA GPU cannot do bf16 (needs compute capability 8.0+); use fp16")
    if precision == "bf16" and device_type == "mps":
        from accelerate.utils import is_bf16_available

        if not is_bf16_available():
            raise ConfigError("precision bf16: this MPS device cannot do bf16 (needs macOS 14); use fp16")


def bf16_supported() -> bool:
    """Whether the current CUDA GPU does bf16 (a function of its own, so tests can pretend it does not)."""
    import torch

    return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())


@contextlib.contextmanager
def _torch_device_env(device: str | None) -> Iterator[None]:
    """Accelerate takes an explicit device (``cuda:1``) from ACCELERATE_TORCH_DEVICE when its state is made."""
    if device is None or device in ("cpu", "cuda", "mps"):
        yield
        return
    old = os.environ.get("ACCELERATE_TORCH_DEVICE")
    os.environ["ACCELERATE_TORCH_DEVICE"] = device
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("ACCELERATE_TORCH_DEVICE", None)
        else:
            os.environ["ACCELERATE_TORCH_DEVICE"] = old


def _reset_accelerate_state() -> None:
    from accelerate.state import AcceleratorState, GradientState

    AcceleratorState._reset_state(reset_partial_state=not launched())
    GradientState._reset_state()


def make_accelerator(
    *,
    precision: str,
    accumulate: int,
    device: str,
    seed: int,
    find_unused_parameters: bool = False,
    step_scheduler_with_optimizer: bool = False,
) -> accelerate.Accelerator:
    """An Accelerator for wood's options, every process seeded with ``seed`` (see the module docstring).

    ``precision``: one of PRECISIONS. ``accumulate``: ``gradient_accumulation_steps`` (for trainers that use
    ``accelerator.accumulate``; note ``accelerator.backward`` then divides the loss by it). ``device``: wood's
    device string. ``find_unused_parameters``: DDP's flag, for models with trainable parameters a step may
    not reach. ``step_scheduler_with_optimizer``: accelerate's flag; False (wood's default) means a
    prepared scheduler steps once per ``scheduler.step()`` call, the same schedule for any world size.
    Raises ConfigError for an unknown precision, one the device cannot run, or a device the launcher owns.
    """
    if precision not in PRECISIONS:
        raise ConfigError(f"precision must be one of {list(PRECISIONS)}, but got {precision!r}")
    if accumulate < 1:
        raise ConfigError(f"accumulate must be >= 1, but got {accumulate}")
    cpu, explicit = _device_kind(device)
    if launched() and not cpu:
        import torch

        device_type = "cuda" if torch.cuda.is_available() else "cpu"
    else:
        device_type = "cpu" if cpu else str(explicit).split(":")[0]
    check_precision(precision, device_type)

    from accelerate import Accelerator
    from accelerate.utils import DistributedDataParallelKwargs, set_seed

    _reset_accelerate_state()
    handlers = [DistributedDataParallelKwargs(find_unused_parameters=find_unused_parameters)]
    with _torch_device_env(None if cpu else explicit):
        accelerator = Accelerator(
            mixed_precision=MIXED_PRECISION[precision],
            gradient_accumulation_steps=accumulate,
            cpu=cpu,
            kwargs_handlers=handlers,
            step_scheduler_with_optimizer=step_scheduler_with_optimizer,
        )
    set_seed(seed)
    return accelerator


def shard(items: Sequence[T], rank: int, processes: int) -> list[T]:
    """This process's contiguous slice of a global batch: sizes differ by at most one, rank 0 first.

    ``shard(range(5), r, 2)`` gives [0, 1] and [2, 3, 4]; with more processes than items some get [].
    """
    n = len(items)
    start = rank * n // processes
    stop = (rank + 1) * n // processes
    return list(items[start:stop])
