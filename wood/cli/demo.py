"""`wood demo`: the whole pipeline on synthetic data, offline, small enough for 2 CPU cores.

synth -> prep -> YOLO -> YOLO-World -> SAM (pretrained LiteMedSAM zero-shot, then fine-tuned) -> classification
(quick) -> PatchCore (good images only) -> eval -> report.
Each stage's settings come from a checked-in config (datasets/demo_*.yaml), read by the one loader
(wood.config.build_config into the stage's dataclass, so a typo is one line naming the file and key);
the demo only fills in where the data and runs live. Every stage runs under ``block_network``: a network
attempt is an error, not a silent download.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wood.config import build_config
from wood.console import console
from wood.dataset_config import packaged_config_path
from wood.errors import ConfigError, DataError
from wood.netguard import block_network
from wood.outdir import check_replaceable, prepare_parent, remove_tree, write_marker, writer_lock


def demo_config(name: str, folder: Path | None = None) -> Path:
    """A demo config: ``folder/demo_<name>.yaml``, by default the checked-in datasets/demo_<name>.yaml."""
    path = folder / f"demo_{name}.yaml" if folder is not None else packaged_config_path(f"demo_{name}")
    if path is None or not path.is_file():
        raise ConfigError(f"demo config datasets/demo_{name}.yaml is missing from this install")
    return path


def stage_config_classes() -> dict[str, type]:
    """The config dataclass of each datasets/demo_<name>.yaml (imported here: the classes are light)."""
    from wood.finetune.anomaly.config import AnomalyConfig
    from wood.finetune.classify.config import ExperimentsConfig
    from wood.finetune.sam.config import SamTrainConfig
    from wood.finetune.yolo.config import YoloConfig
    from wood.prep.config import PrepConfig
    from wood.prep.synth.config import SynthConfig

    return {
        "synth": SynthConfig,
        "prep": PrepConfig,
        "yolo": YoloConfig,
        "world": YoloConfig,
        "sam": SamTrainConfig,
        "classify": ExperimentsConfig,
        "anomaly": AnomalyConfig,
    }


def stage_config(stage: str, folder: Path | None = None, /, **where: Any) -> Any:
    """The settings of demo ``stage``: its demo_<stage>.yaml (see :func:`demo_config`) through the one loader
    (wood.config.build_config), with ``where`` (data, out, name) filled in. A typo is one ConfigError line."""
    return build_config(stage_config_classes()[stage], demo_config(stage, folder), **where)


@dataclass
class DemoResult:
    out: Path
    configs: Path | None = None
    """Folder of demo_*.yaml files replacing the checked-in ones (tests use tiny settings)."""
    seconds: dict[str, float] = field(default_factory=dict)
    runs: dict[str, Path] = field(default_factory=dict)
    numbers: dict[str, Any] = field(default_factory=dict)


DEMO_ENTRIES = ("data", "prepared", "runs", "report", "demo.json")
DEMO_MAP_CONF = 0.05
"""The SAM-on-YOLO-boxes evaluation segments boxes >= 0.05 for segm mAP, not COCO's 0.001: the demo's
detector gives 1,417 boxes >= 0.001 on the 45 test images and 207 >= 0.05, each one SAM decode (about 0.16
s on 2 cores), so this saves about 3 minutes. mIoU, Dice and pixel F1 with YOLO boxes (boxes >= 0.25) are
unchanged; segm mAP and the run's anomaly_scale, which see every segmented box, are not (on the decoder-only
demo run: mAP50 0.391 -> 0.385, pixel AUROC 0.986 -> 0.963)."""
"""What the demo writes at the top of its folder (while it runs, all its marker lets it fill)."""


def _claim_out(out: Path, force: bool) -> None:
    """Make ``out`` the demo's: empty or new, or (with ``force``) a previous demo wood can prove it wrote,
    every file in it unchanged (its marker lists them all; a file the user put anywhere inside is kept)."""
    prepare_parent(out)
    if out.is_dir() and any(out.iterdir()):
        check_replaceable(out, "demo")
        if not force:
            raise DataError(
                "a previous demo is there; pass --force to replace it or --out to choose another folder", out
            )
        remove_tree(out)
    elif out.exists() or out.is_symlink():
        check_replaceable(out, "demo")  # a file: one line
    out.mkdir(parents=True, exist_ok=True)
    write_marker(out, "demo", state="building", entries=(), open_=True)


def run_demo(
    out: Path,
    force: bool = False,
    stages: tuple[str, ...] | None = None,
    configs: Path | None = None,
) -> DemoResult:
    """Run the demo into ``out``; returns where everything is and the headline numbers.

    ``stages`` limits the model stages (synth and prep always run); ``configs`` is a folder
    of demo_*.yaml files used instead of the checked-in ones.
    """
    out = out.expanduser().absolute()
    prepare_parent(out)
    with writer_lock(out):
        _claim_out(out, force)
        result = _run_stages(out, stages, configs)
        write_marker(out, "demo", entries=[n for n in DEMO_ENTRIES if (out / n).exists()])
    return result


def _run_stages(out: Path, stages: tuple[str, ...] | None, configs: Path | None) -> DemoResult:
    result = DemoResult(out=out, configs=configs)
    plan: list[tuple[str, Callable[[DemoResult], None]]] = [
        ("synth", _synth),
        ("prep", _prep),
        ("yolo", _yolo),
        ("yolo-world", _world),
        ("sam", _sam),
        ("classify", _classify),
        ("anomaly", _anomaly),
        ("report", _report),
    ]
    with block_network() as attempts:
        for name, stage in plan:
            if stages is not None and name not in stages and name not in ("synth", "prep"):
                continue
            console.rule(f"[bold]demo: {name}")
            started = time.perf_counter()
            stage(result)
            result.seconds[name] = round(time.perf_counter() - started, 1)
            console.print(f"{name}: {result.seconds[name]:.1f} s")
    if attempts:
        raise DataError(f"the demo tried to reach the network {len(attempts)} time(s): {attempts[:3]}")
    summary = {
        "seconds": result.seconds,
        "total_seconds": round(sum(result.seconds.values()), 1),
        "runs": {k: str(v) for k, v in result.runs.items()},
        "numbers": result.numbers,
    }
    (out / "demo.json").write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    return result


def _synth(r: DemoResult) -> None:
    from wood.console import track
    from wood.prep.synth.write import write_config_tree

    cfg = stage_config("synth", r.configs, out=r.out / "data" / "wood", exist_ok=True)
    write_config_tree(cfg, progress=track)


def _prep(r: DemoResult) -> None:
    from wood.prep.pipeline import run_prep
    from wood.prep.stats import stats_table

    cfg = stage_config("prep", r.configs, source=r.out / "data" / "wood", out=r.out / "prepared")
    console.print(stats_table(run_prep(cfg)))
    r.runs["prepared"] = cfg.out


def _yolo_run(r: DemoResult, key: str, config: str) -> None:
    from wood.eval.detect.evaluate import evaluate
    from wood.eval.detect.text import format_summary
    from wood.finetune.yolo.train import train

    cfg = stage_config(config, r.configs, data=r.out / "prepared", out=r.out / "runs" / "yolo", name=key)
    run = train(cfg)
    result = evaluate(run, "test")
    console.print(format_summary(result))
    r.runs[key] = run
    r.numbers[f"{key}_mAP50"] = result.get("coco", {}).get("bbox", {}).get("mAP50")


def _yolo(r: DemoResult) -> None:
    _yolo_run(r, "yolo", "yolo")


def _world(r: DemoResult) -> None:
    _yolo_run(r, "yolo-world", "world")


def _sam(r: DemoResult) -> None:
    from wood.eval.segment.evaluate import evaluate
    from wood.eval.segment.zero_shot import evaluate_zero_shot
    from wood.finetune.sam.models import PACKAGED
    from wood.finetune.sam.train import train

    cfg = stage_config("sam", r.configs, data=str(r.out / "prepared"), out=str(r.out / "runs" / "sam"), name="sam-lora")
    # Image embeddings of the test images by path: both evaluations of the run encode each image once, and a
    # decoder-only run (its encoder is the pretrained one, unchanged) reuses the zero-shot evaluation's.
    embeddings: dict = {}
    if cfg.model in PACKAGED:  # the pretrained model untrained: the row fine-tuning must beat
        if cfg.threads is not None:
            import torch

            torch.set_num_threads(cfg.threads)
        zero = r.out / "runs" / "sam" / f"{cfg.model}-zero-shot"
        shared = embeddings if cfg.adapter == "decoder" and cfg.checkpoint is None else None
        base = evaluate_zero_shot(cfg.model, cfg.data, "test", out=zero, device=cfg.device, embeddings=shared)
        r.runs["sam-zero-shot"] = zero
        r.numbers["sam_zero_shot_mIoU_gt_boxes"] = base.get("mIoU")
    run = train(cfg)
    r.runs["sam"] = run
    gt = evaluate(run, "test", boxes="gt", embeddings=embeddings)  # prints its own summary
    r.numbers["sam_mIoU_gt_boxes"] = gt.get("mIoU")
    if "yolo" in r.runs:
        det = evaluate(run, "test", boxes=str(r.runs["yolo"]), embeddings=embeddings, map_conf=DEMO_MAP_CONF)
        r.numbers["sam_mIoU_yolo_boxes"] = det.get("mIoU")


def _classify(r: DemoResult) -> None:
    from wood.finetune.classify.experiments import run_attempts

    cfg = stage_config("classify", r.configs, data=r.out / "prepared", out=r.out / "runs" / "classify")
    rows = run_attempts(cfg)
    r.runs["classify"] = r.out / "runs" / "classify"
    accs = [row.get("test_acc") for row in rows if row.get("test_acc") is not None]
    r.numbers["classify_best_test_acc"] = max(accs) if accs else None
    for kind, pretrained in (("scratch", False), ("pretrained", True)):  # ImageNet transfer vs from scratch
        some = [row["test_acc"] for row in rows if row.get("test_acc") is not None and pretrained is row["pretrained"]]
        r.numbers[f"classify_best_{kind}_test_acc"] = max(some) if some else None


def _anomaly(r: DemoResult) -> None:
    from wood.errors import DataError as _DataError
    from wood.eval.anomaly.evaluate import evaluate, format_summary
    from wood.finetune.anomaly.train import train

    cfg = stage_config(
        "anomaly", r.configs, data=str(r.out / "prepared"), out=str(r.out / "runs" / "anomaly"), name="patchcore"
    )
    run = train(cfg)
    r.runs["anomaly"] = run
    try:
        result = evaluate(run, "test")
    except _DataError as exc:  # a tiny demo split may hold no defective val image: no threshold to choose
        console.print(f"[yellow]{exc}[/yellow]; evaluating without a threshold")
        result = evaluate(run, "test", threshold=False)
    console.print(format_summary(result))
    r.numbers["patchcore_image_auroc"] = result["overall"]["image_auroc"]
    r.numbers["patchcore_pixel_auroc"] = result["overall"]["pixel_auroc"]


def _report(r: DemoResult) -> None:
    from wood.reporting.build import build_report

    runs = [p for k, p in r.runs.items() if k != "prepared"]
    build_report(runs, r.out / "report", prepared=r.out / "prepared")
    r.runs["report"] = r.out / "report"
