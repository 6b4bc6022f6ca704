"""`wood finetune anomaly`: fit PatchCore or PaDiM on the good train images and write one run folder.

Engine: both methods are written here on torch (about 250 lines in all) rather than on anomalib 2.7,
the reference implementation, because `pip install anomalib==2.7.0` beside this project's torch 2.14.1
would add opencv-python-headless next to opencv-python (which Ultralytics needs; with both installed,
removing either later breaks `import cv2`), plus lightning, pandas and kornia; its backbones also come
from timm's hub unless given a file. The metrics are wood's own either way (wood.eval.anomaly.metrics).

The run folder (written under a temporary name and renamed when complete, wood.outdir.atomic_output, so
an interrupted fit leaves nothing) holds config.yaml, metrics.json (``kind: anomaly``: the backbone,
train images, bank or Gaussian sizes, times) and weights.pt (wood.finetune.anomaly.model). Fitting is one
pass over the images, so there is no epoch checkpoint: ``--resume`` returns a complete run of the same
options without fitting again and refuses one fitted with other options.
"""

from __future__ import annotations

import resource
import sys
from pathlib import Path
from typing import Any

import yaml

from wood.config import config_to_dict, write_config
from wood.errors import ConfigError, MisMatchError
from wood.finetune.anomaly.config import AnomalyConfig
from wood.outdir import atomic_output
from wood.runs import CONFIG_FILE, MARKER_KIND, METRICS_FILE, choose_run_dir, write_metrics_json

RESUME_IGNORED = ("resume", "exist_ok", "device", "batch")
"""Options that may differ between a run and its --resume (they do not change the model)."""


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (ru_maxrss is KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (2**20 if sys.platform == "darwin" else 2**10), 1)


def resume_run(final: Path, cfg: AnomalyConfig) -> Path:
    """A complete run of the same options at ``final`` (see the module docstring)."""
    if not ((final / METRICS_FILE).is_file() and (final / "weights.pt").is_file()):
        raise ConfigError("nothing to resume: no complete run of that name; drop --resume to fit one", final)
    try:
        old = yaml.safe_load((final / CONFIG_FILE).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise MisMatchError(f"cannot read the run's config ({exc.__class__.__name__}); drop --resume", final) from exc
    new = config_to_dict(cfg)
    differ = sorted(k for k in new if k not in RESUME_IGNORED and old.get(k) != new[k])
    if differ:
        raise MisMatchError(
            f"the run was fitted with other options ({', '.join(differ)}); drop --resume, or use --exist-ok to refit",
            final,
        )
    return final


def train(cfg: AnomalyConfig) -> Path:
    """Fit per ``cfg`` and return the run folder. Every check (data, weights, options) runs before anything
    is written."""
    import torch

    from wood.console import console, track
    from wood.device import resolve_device
    from wood.finetune.anomaly import model as anomaly_model
    from wood.finetune.anomaly.backbones import load_backbone
    from wood.finetune.anomaly.data import good_train_images

    final = choose_run_dir(cfg.out, cfg.run_name, exist_ok=cfg.exist_ok, resume=cfg.resume).absolute()
    if cfg.resume:
        run = resume_run(final, cfg)
        console.print(f"{run}: complete with these options; nothing to fit")
        return run
    device = torch.device(resolve_device(cfg.device))
    paths = good_train_images(cfg.data)
    backbone, source = load_backbone(cfg.backbone, cfg.weights, cfg.pretrained, cfg.seed)
    with atomic_output(final, MARKER_KIND, inputs=[cfg.data]) as tmp:
        progress = lambda items: track(items, f"{cfg.method} {final.name}")  # noqa: E731
        model, record = anomaly_model.fit(cfg, backbone, paths, device, progress)
        anomaly_model.save(model, tmp / "weights.pt", source)
        write_config(cfg, tmp / "config.yaml")
        metrics: dict[str, Any] = {
            "method": cfg.method,
            **source,
            "imgsz": cfg.imgsz,
            "sigma": cfg.sigma,
            "seed": cfg.seed,
            "device": str(device),
            "data": cfg.data,
            **record,
            "peak_rss_mb": peak_rss_mb(),
            "notes": "fitted on the good images of the train split only (manifest.json); "
            "score with `wood eval anomaly --run RUN`",
        }
        write_metrics_json(tmp, "anomaly", metrics)
    size = f"bank {record['bank']} patches" if cfg.method == "patchcore" else f"{record['gaussians']} Gaussians"
    console.print(
        f"{final}: {cfg.method} on {record['train_images']} good images, {size}, {record['train_time_s']:.1f} s"
    )
    return final
