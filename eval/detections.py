"""One image's detections as one value: what a detector gives, whichever engine ran it.

:class:`Detections` holds ``xyxy`` (N, 4) boxes in pixels of the original image (XYXY, pixel
edges), ``scores`` (N,), ``class_ids`` (N,) integers from 0 (COCO category id = class id + 1)
and optionally ``masks`` (N, H, W) bool. It is checked on construction, with errors that show
the expected against the actual shape ("xyxy must be a 2D np.ndarray with shape (N, 4), but got
shape (3,)"). The arrays are kept as given (no copy, no dtype change), so what is written from
them is what the engine returned.

Constructors: :meth:`Detections.from_ultralytics` (an Ultralytics ``Results``: a .pt checkpoint
or an .onnx export run by Ultralytics, which is how wood runs its exports) and
:meth:`Detections.from_sahi` (sahi's merged ObjectPredictions of a sliced prediction). COCO
results are written from them by wood.eval.coco_results.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

COCO_MIN_CONF = 0.001
"""Score floor of predictions scored by COCO mAP (COCO's protocol, as Ultralytics val): AP needs the
low-score tail. `wood eval detect`, `wood eval segment --boxes <yolo run>` and the export parity
check predict with it."""


def _check_array(name: str, value: Any, shape: str, ndim: int) -> np.ndarray:
    if not isinstance(value, np.ndarray):
        raise ValueError(f"{name} must be a {ndim}D np.ndarray with shape {shape}, but got {type(value).__name__}")
    if value.ndim != ndim:
        raise ValueError(f"{name} must be a {ndim}D np.ndarray with shape {shape}, but got shape {value.shape}")
    return value


@dataclass(frozen=True, eq=False)
class Detections:
    """Detections of one image: ``xyxy`` (N, 4) float pixels (XYXY, pixel edges), ``scores`` (N,) float,
    ``class_ids`` (N,) int from 0, ``masks`` (N, H, W) bool or None."""

    xyxy: np.ndarray
    scores: np.ndarray
    class_ids: np.ndarray
    masks: np.ndarray | None = None

    def __post_init__(self) -> None:
        xyxy = _check_array("xyxy", self.xyxy, "(N, 4)", 2)
        if xyxy.shape[1] != 4:
            raise ValueError(f"xyxy must be a 2D np.ndarray with shape (N, 4), but got shape {xyxy.shape}")
        if xyxy.dtype.kind != "f":
            raise ValueError(f"xyxy must hold floats, but got dtype {xyxy.dtype}")
        n = len(xyxy)
        scores = _check_array("scores", self.scores, f"({n},)", 1)
        if scores.shape != (n,):
            raise ValueError(f"scores must be a 1D np.ndarray with shape ({n},), but got shape {scores.shape}")
        if scores.dtype.kind != "f":
            raise ValueError(f"scores must hold floats, but got dtype {scores.dtype}")
        class_ids = _check_array("class_ids", self.class_ids, f"({n},)", 1)
        if class_ids.shape != (n,):
            raise ValueError(f"class_ids must be a 1D np.ndarray with shape ({n},), but got shape {class_ids.shape}")
        if class_ids.dtype.kind not in "iu":
            raise ValueError(f"class_ids must hold integers, but got dtype {class_ids.dtype}")
        if self.masks is not None:
            masks = _check_array("masks", self.masks, f"({n}, H, W)", 3)
            if len(masks) != n:
                raise ValueError(f"masks must be a 3D np.ndarray with shape ({n}, H, W), but got shape {masks.shape}")
            if masks.dtype != bool:
                raise ValueError(f"masks must hold bools, but got dtype {masks.dtype}")

    def __len__(self) -> int:
        return len(self.xyxy)

    def __getitem__(self, index: Any) -> Detections:
        """The detections selected by ``index`` (a bool array, an index array or a slice), masks included."""
        masks = None if self.masks is None else self.masks[index]
        return Detections(self.xyxy[index], self.scores[index], self.class_ids[index], masks)

    @classmethod
    def empty(cls) -> Detections:
        """No detections."""
        return cls(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64))

    @classmethod
    def from_ultralytics(cls, result: Any, masks: bool = True, mask_threshold: float = 0.5) -> Detections:
        """One Ultralytics ``Results`` (detect, segment or YOLO-World; .pt or an .onnx export): its boxes
        (pixels of the image it predicted), confidences and classes; with ``masks``, a segment model's masks
        binarised at ``mask_threshold`` (none when the result has none)."""
        boxes = result.boxes
        data = None
        if masks and result.masks is not None:
            data = result.masks.data.cpu().numpy() > mask_threshold
        return cls(boxes.xyxy.cpu().numpy(), boxes.conf.cpu().numpy(), boxes.cls.cpu().numpy().astype(int), data)

    @classmethod
    def from_sahi(cls, predictions: list[Any], max_det: int) -> Detections:
        """sahi ObjectPredictions of one image, already merged and shifted to the full image (a sliced
        prediction's ``object_prediction_list``): best score first (ties keep sahi's order), at most
        ``max_det``; xyxy and scores float32, class ids int64 (sahi's category id = class id)."""
        rows = sorted(
            ((p.bbox.to_xyxy(), float(p.score.value), int(p.category.id)) for p in predictions), key=lambda r: -r[1]
        )[:max_det]
        return cls(
            np.array([r[0] for r in rows], np.float32).reshape(-1, 4),
            np.array([r[1] for r in rows], np.float32),
            np.array([r[2] for r in rows], np.int64),
        )

    def category_ids(self) -> list[int]:
        """COCO category ids (class id + 1), as the prepared ``coco/<split>.json`` numbers its categories."""
        return [int(k) + 1 for k in self.class_ids]
