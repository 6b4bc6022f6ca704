"""Ultralytics offline setup, done once, in one place.

Ultralytics reaches the network by itself (measured with the network cut off):

- at import, ``is_online()`` makes DNS lookups;
- every dataset check calls ``check_font("Arial.ttf")``, a HEAD request with a 3 s timeout;
- on CUDA the AMP check downloads ``yolo26n.pt``;
- it pip-installs missing packages when it thinks it is online;
- its settings file (``sync``, integrations) lives in a user-global folder.

``setup_ultralytics()`` keeps all of that away and returns the imported ``ultralytics`` module.
Call it from inside the functions that need Ultralytics, never at import time:

- ``YOLO_OFFLINE=1`` and ``YOLO_AUTOINSTALL=false`` (read by Ultralytics at import);
- ``YOLO_CONFIG_DIR`` points at wood's own folder (``wood_home()/ultralytics``), which holds a
  ``settings.json`` with ``sync`` and every integration off and ``Arial.ttf`` /
  ``Arial.Unicode.ttf`` copied from matplotlib's DejaVuSans.ttf. The user's global
  ``~/.config/Ultralytics/settings.json`` is never read for writing nor changed;
- if Ultralytics was imported before (by a user script or a test), the same is applied to the
  already-loaded module constants, in memory only;
- ``offline_amp_check()`` replaces the trainer's AMP check on CUDA by one that needs no download.

Datasets are always given to Ultralytics as a data.yaml with NO ``path:`` key (see
``wood.finetune.yolo.data``): the splits then resolve relative to the folder of data.yaml, while a
relative ``path:`` would resolve against the settings' ``datasets_dir``.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path
from types import ModuleType

FONT_NAMES = ("Arial.ttf", "Arial.Unicode.ttf")
"""Fonts Ultralytics looks for in its config dir (Arial.Unicode.ttf for non-ASCII class names)."""

SETTINGS_VERSION = "0.0.8"
INTEGRATIONS = ("clearml", "comet", "dvc", "mlflow", "raytune", "tensorboard", "wandb")


def wood_home() -> Path:
    """wood's own cache folder: ``$WOOD_HOME`` or ``$XDG_CACHE_HOME/wood`` (default ``~/.cache/wood``)."""
    if env := os.getenv("WOOD_HOME"):
        return Path(env).expanduser().resolve()
    base = Path(os.getenv("XDG_CACHE_HOME") or Path.home() / ".cache")
    return (base / "wood").resolve()


def default_weights_dir() -> Path:
    """Where wood looks for pretrained weights first: ``$WOOD_WEIGHTS`` or ``wood_home()/weights``."""
    if env := os.getenv("WOOD_WEIGHTS"):
        return Path(env).expanduser().resolve()
    return wood_home() / "weights"


def ultralytics_config_dir() -> Path:
    """The folder passed to Ultralytics as ``YOLO_CONFIG_DIR`` (it appends ``Ultralytics/``)."""
    return wood_home() / "ultralytics"


def _font_source() -> Path:
    import matplotlib

    return Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"


def prepare_config_dir(config_dir: Path | None = None) -> Path:
    """Create ``<config_dir>/Ultralytics`` with the fonts and an offline settings.json; return it.

    Existing files are kept (a user may have placed a real Arial there), except that a
    settings.json with ``sync`` or an integration switched on is rewritten with them off.
    """
    root = (config_dir or ultralytics_config_dir()) / "Ultralytics"
    root.mkdir(parents=True, exist_ok=True)
    for name in FONT_NAMES:
        target = root / name
        if not target.is_file():
            tmp = target.with_suffix(f".tmp-{os.getpid()}")
            shutil.copyfile(_font_source(), tmp)
            os.replace(tmp, target)
    settings_file = root / "settings.json"
    settings = {}
    if settings_file.is_file():
        try:
            settings = json.loads(settings_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            settings = {}
    wanted = {
        "settings_version": SETTINGS_VERSION,
        "datasets_dir": str(wood_home() / "datasets"),
        "weights_dir": str(default_weights_dir()),
        "runs_dir": str(Path("runs").resolve()),
        "uuid": settings.get("uuid", "0" * 64),
        "sync": False,
        "api_key": "",
        "openai_api_key": "",
        **{k: False for k in INTEGRATIONS},
        "vscode_msg": False,
        "openvino_msg": False,
    }
    keep = ("datasets_dir", "weights_dir", "runs_dir", "uuid")
    merged = {**wanted, **{k: settings[k] for k in keep if isinstance(settings.get(k), str)}}
    if merged != settings:
        tmp = settings_file.with_suffix(f".tmp-{os.getpid()}")
        tmp.write_text(json.dumps(merged, indent=2), encoding="utf-8")
        os.replace(tmp, settings_file)
    return root


def setup_ultralytics() -> ModuleType:
    """Make Ultralytics offline-safe for this process and return the ``ultralytics`` module.

    Idempotent. An explicit weight download (``--download``, see ``wood.finetune.yolo.train``) still
    works afterwards; DNS probes, font requests, auto-pip and analytics stay off.
    """
    root = prepare_config_dir()
    os.environ["YOLO_OFFLINE"] = "1"
    os.environ["YOLO_AUTOINSTALL"] = "false"
    already = "ultralytics" in sys.modules
    if not already:
        os.environ["YOLO_CONFIG_DIR"] = str(root.parent)
    import ultralytics
    import ultralytics.utils as uu
    import ultralytics.utils.checks as checks

    # Same switches on the module constants, in memory (they were read at import time).
    uu.ONLINE = False
    checks.ONLINE = False
    checks.AUTOINSTALL = False
    uu.AUTOINSTALL = False
    try:
        import ultralytics.utils.events as events

        events.ONLINE = False
    except ImportError:  # pragma: no cover - older Ultralytics
        pass
    if Path(checks.USER_CONFIG_DIR) != root:
        # Imported before us with another config dir: fonts are looked up in ours, settings are
        # changed in memory only (dict.update bypasses SettingsManager's save to the user's file).
        checks.USER_CONFIG_DIR = root
        cached = getattr(checks.check_font, "__wrapped__", None)  # lru_cache under a lock decorator
        if hasattr(cached, "cache_clear"):
            cached.cache_clear()  # a font found under the old config dir must not be reused
        dict.update(uu.SETTINGS, {"sync": False, **{k: False for k in INTEGRATIONS}})
    _patch_amp_check()
    return ultralytics


def offline_amp_check(model) -> bool:
    """AMP check that needs no download: FP32 vs autocast on the model being trained.

    Ultralytics' own check runs a downloaded yolo26n.pt on bus.jpg. Here the training model itself
    runs one fixed random batch in FP32 and under autocast; AMP is used when the two agree (or when
    the model is not on CUDA, where Ultralytics never uses AMP anyway).
    """
    import copy

    import torch

    device = next(model.parameters()).device
    if device.type != "cuda":
        return False
    import ultralytics.utils.checks as checks

    weights = Path(_weights_dir_setting()) / "yolo26n.pt"
    if weights.is_file():  # the original check works offline when its weight is present
        return checks._wood_original_check_amp(model)
    m = copy.deepcopy(model).float().eval()
    gen = torch.Generator(device="cpu").manual_seed(0)
    x = torch.rand(1, 3, 256, 256, generator=gen).to(device)
    try:
        with torch.no_grad():
            a = m(x)
            with torch.autocast(device_type="cuda", enabled=True):
                b = m(x)
    except Exception:  # noqa: BLE001 - any failure means: train without AMP
        return False
    a = a[0] if isinstance(a, (list, tuple)) else a
    b = b[0] if isinstance(b, (list, tuple)) else b
    if not (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor)) or a.shape != b.shape:
        return False
    ok = bool(torch.isfinite(b).all()) and torch.allclose(a, b.float(), rtol=0.05, atol=0.5)
    return ok


def _weights_dir_setting() -> str:
    from ultralytics.utils import SETTINGS

    return str(SETTINGS.get("weights_dir", default_weights_dir()))


def _patch_amp_check() -> None:
    import ultralytics.engine.trainer as trainer
    import ultralytics.utils.checks as checks

    if not hasattr(checks, "_wood_original_check_amp"):
        checks._wood_original_check_amp = checks.check_amp
    trainer.check_amp = offline_amp_check
