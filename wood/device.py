"""Checking a ``--device`` string before anything is written.

Spellings accepted (the union of torch's and Ultralytics'): ``cpu``, ``mps``, ``cuda`` (the
current CUDA device), ``cuda:N`` or a bare index ``N``; with ``multi=True`` (Ultralytics DDP) also
a list ``0,1`` (or ``cuda:0,1``). ``auto`` and None mean "let the caller choose" and pass through.

:func:`parse_device` checks the spelling only (pure). :func:`check_device` also asks torch how
many CUDA devices it sees, so ``--device cuda:7`` on a one-GPU (or CPU-only) machine is one
ConfigError line up front instead of a traceback after the run folder was made.
"""

from __future__ import annotations

from wood.errors import ConfigError


def _spellings(multi: bool) -> str:
    return "auto, cpu, mps, cuda, cuda:N or N (a CUDA index)" + (", or a list such as 0,1" if multi else "")


def device_help(multi: bool = False) -> str:
    """The one help text of every ``--device`` option (``multi``: Ultralytics also takes a list)."""
    return f"Where to run: {_spellings(multi)}. auto: the first CUDA device torch sees, else cpu."


def parse_device(device: str | None, *, multi: bool = False) -> tuple[str, list[int]]:
    """``(kind, indices)`` of a device string: kind is auto | cpu | mps | cuda; indices are the
    CUDA indices asked for ([] for ``cuda``: the current device). A ConfigError for other spellings."""
    if device is None:
        return "auto", []
    text = str(device).strip().lower()
    if text in ("", "auto"):
        return "auto", []
    if text in ("cpu", "mps"):
        return text, []
    if text == "cuda":
        return "cuda", []
    body = text[len("cuda:") :] if text.startswith("cuda:") else text
    parts = [p.strip() for p in body.split(",")]
    if not all(p.isdigit() for p in parts) or (len(parts) > 1 and not multi) or len(set(parts)) != len(parts):
        raise ConfigError(f"device must be {_spellings(multi)}, but got {device!r}")
    return "cuda", [int(p) for p in parts]


def check_device(device: str | None, *, multi: bool = False, count: int | None = None) -> str | None:
    """Validate ``device`` against the devices torch sees; return it in torch's spelling.

    None and "auto" come back unchanged, ``N`` becomes ``cuda:N``, a list (``multi``) becomes
    ``0,1`` (Ultralytics' spelling). ``count`` stands in for ``torch.cuda.device_count()`` (tests).
    Raises ConfigError naming the device and what torch sees.
    """
    kind, indices = parse_device(device, multi=multi)
    if kind == "auto":
        return device if device is None else "auto"
    if kind == "cpu":
        return "cpu"
    import torch

    if kind == "mps":
        if not torch.backends.mps.is_available():
            raise ConfigError(f"device {device!r} asks for Apple MPS, but torch sees no MPS device; use --device cpu")
        return "mps"
    seen = torch.cuda.device_count() if count is None else count
    if seen == 0:
        raise ConfigError(f"device {device!r} asks for CUDA, but torch sees no CUDA device; use --device cpu")
    missing = [i for i in indices if i >= seen]
    if missing:
        raise ConfigError(
            f"device {device!r} asks for CUDA device {missing[0]}, but torch sees only {seen} "
            f"(indices 0..{seen - 1}); use --device 0 or --device cpu"
        )
    if not indices:
        return "cuda"
    return f"cuda:{indices[0]}" if len(indices) == 1 else ",".join(map(str, indices))


def resolve_device(device: str | None) -> str:
    """The device to run on, in torch's spelling: ``auto`` (or None) → ``cuda`` when torch sees a GPU,
    else ``cpu``; anything else as :func:`check_device` returns it (``0`` → ``cuda:0``). A device torch
    does not see (``cuda`` without a GPU, ``cuda:7`` on one GPU) is a ConfigError."""
    checked = check_device(device)
    if checked not in (None, "auto"):
        return checked
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"
