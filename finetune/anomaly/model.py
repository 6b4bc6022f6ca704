"""An anomaly model as one object: backbone + PatchCore bank or PaDiM Gaussians + preprocessing.

:func:`fit` learns it from image files, :meth:`AnomalyModel.predict` gives (imgsz x imgsz) anomaly maps
and image scores, :func:`save` / :func:`load` write and read the run's ``weights.pt``, which holds
everything needed to score (the backbone's state dict too, so no weights file has to be found again).
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from wood.errors import DataError, WeightsError
from wood.finetune.anomaly import features as feat
from wood.finetune.anomaly import padim, patchcore

WEIGHTS_FORMAT = "wood-anomaly/1"


@dataclass
class AnomalyModel:
    method: str  # patchcore | padim
    backbone_name: str
    backbone: Any  # TwoStage module, eval mode
    imgsz: int
    sigma: float
    state: dict[str, Any]  # patchcore: {"bank"}; padim: {"idx", "mean", "cov_inv"}
    device: Any = "cpu"
    _fast: Any = field(default=None, repr=False, compare=False)  # (inference backbone, bank operands) cache

    @property
    def pool(self) -> bool:
        return self.method == "patchcore"

    def to(self, device) -> AnomalyModel:
        self.device = device
        self.backbone.to(device)
        self.state = {k: v.to(device) for k, v in self.state.items()}
        self._fast = None
        return self

    def fast(self) -> tuple[Any, Any]:
        """(the backbone folded for inference, PatchCore's bank operands or None), built once per model;
        ``backbone`` and ``state`` stay as saved (wood.finetune.anomaly.features.inference_backbone)."""
        if self._fast is None:
            ops = patchcore.bank_operands(self.state["bank"].contiguous()) if self.method == "patchcore" else None
            self._fast = (feat.inference_backbone(self.backbone), ops)
        return self._fast

    def score_batch(self, x):
        """(maps (B, imgsz, imgsz), scores (B,)) of a normalised batch, on the CPU."""
        backbone, ops = self.fast()
        f = feat.patch_features(backbone, x.to(self.device), pool=self.pool)
        with _inference():
            if self.method == "patchcore":
                patch = patchcore.nearest_distance(f, self.state["bank"], ops)
            else:
                patch = padim.mahalanobis(f, self.state)
            maps, scores = feat.to_maps(patch, self.imgsz, self.sigma)
        return maps.cpu(), scores.cpu()

    def predict(self, paths: Sequence[Path], batch: int = 8) -> Iterator[tuple[Path, np.ndarray, float]]:
        """(path, float32 map at imgsz, image score) per image, in order."""
        for chunk in feat.batched(paths, batch):
            x = feat.to_tensor([feat.load_image(p, self.imgsz) for p in chunk])
            maps, scores = self.score_batch(x)
            for p, m, s in zip(chunk, maps.numpy(), scores.tolist(), strict=True):
                yield p, m.astype(np.float32), float(s)


def _inference():
    import torch

    return torch.inference_mode()


def fit(cfg, backbone, paths: Sequence[Path], device, progress=None) -> tuple[AnomalyModel, dict[str, Any]]:
    """Learn ``cfg.method`` from ``paths`` (good images); returns the model and a record for metrics.json."""
    import torch

    if cfg.method == "padim" and len(paths) < 2:
        raise DataError(
            f"PaDiM needs at least 2 good train images (a covariance), but the train split has {len(paths)}"
        )
    generator = torch.Generator().manual_seed(cfg.seed)
    backbone = backbone.to(device).eval()
    start = time.perf_counter()
    fast = feat.inference_backbone(backbone)  # the features the model is scored with (see score_batch)
    grid = cfg.imgsz // 8
    per_image = max(1, math.ceil(cfg.max_pool / len(paths)))
    chunks, sums, channels = [], None, None
    batches = list(feat.batched(paths, cfg.batch))
    for chunk in progress(batches) if progress else batches:
        x = feat.to_tensor([feat.load_image(p, cfg.imgsz) for p in chunk]).to(device)
        f = feat.patch_features(fast, x, pool=cfg.method == "patchcore").cpu()
        channels = f.shape[1]
        if cfg.method == "patchcore":
            chunks.append(patchcore.sample_pool(f, per_image, generator))
        else:
            if sums is None:
                sums = padim.GaussianSums(padim.channel_choice(channels, cfg.padim_dims, generator))
            sums.add(f)
    extracted = time.perf_counter()
    record: dict[str, Any] = {"train_images": len(paths), "feature_grid": [grid, grid], "feature_dim": channels}
    if cfg.method == "patchcore":
        pool = torch.cat(chunks)
        total = len(paths) * grid * grid
        size = patchcore.bank_size(total, pool.shape[0], cfg.coreset, cfg.max_bank)
        idx = patchcore.greedy_coreset(pool.to(device), size, cfg.projection, generator)
        state = {"bank": pool[idx.cpu()].contiguous()}
        record.update(
            {
                "patches": total,
                "pool": int(pool.shape[0]),
                "bank": int(size),
                "bank_mb": round(state["bank"].numel() * 4 / 2**20, 2),
                "bank_capped": size < math.ceil(cfg.coreset * total),
            }
        )
    else:
        state = sums.finish()
        record.update({"dims": int(state["idx"].numel()), "gaussians": grid * grid, "gaussians_mb": _mb(state)})
    done = time.perf_counter()
    record.update(
        {
            "extract_s": round(extracted - start, 3),
            "select_s": round(done - extracted, 3),
            "train_time_s": round(done - start, 3),
        }
    )
    model = AnomalyModel(cfg.method, cfg.backbone, backbone.cpu(), cfg.imgsz, cfg.sigma, state)
    return model, record


def _mb(state: dict[str, Any]) -> float:
    return round(sum(v.numel() * v.element_size() for v in state.values()) / 2**20, 2)


def save(model: AnomalyModel, path: Path, backbone_record: dict[str, Any]) -> None:
    import torch

    torch.save(
        {
            "format": WEIGHTS_FORMAT,
            "method": model.method,
            "backbone": model.backbone_name,
            "backbone_source": backbone_record,
            "imgsz": model.imgsz,
            "sigma": model.sigma,
            "preprocessing": {"resize": [model.imgsz, model.imgsz], "mean": list(feat.MEAN), "std": list(feat.STD)},
            "backbone_state": {k: v.detach().cpu() for k, v in model.backbone.state_dict().items()},
            "state": {k: v.detach().cpu() for k, v in model.state.items()},
        },
        path,
    )


def load(path: str | Path, device="cpu") -> AnomalyModel:
    """The model saved by :func:`save`; a missing or foreign file is a WeightsError naming it."""
    import torch

    from wood.finetune.anomaly.backbones import CHANNELS, build_backbone

    path = Path(path)
    if not path.is_file():
        raise WeightsError("run has no weights.pt: fitting did not finish", path)
    try:
        saved = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - torch raises many kinds on a corrupt file
        raise WeightsError(f"cannot read anomaly weights ({exc.__class__.__name__})", path) from exc
    if not isinstance(saved, dict) or saved.get("format") != WEIGHTS_FORMAT or saved.get("backbone") not in CHANNELS:
        raise WeightsError(f"not an anomaly weights file (expected format {WEIGHTS_FORMAT})", path)
    backbone = build_backbone(saved["backbone"])
    try:
        backbone.load_state_dict(saved["backbone_state"])
    except RuntimeError as exc:
        raise WeightsError(f"backbone state does not fit {saved['backbone']}: {str(exc)[:100]}", path) from exc
    model = AnomalyModel(
        saved["method"], saved["backbone"], backbone.eval(), int(saved["imgsz"]), float(saved["sigma"]), saved["state"]
    )
    return model.to(device)
