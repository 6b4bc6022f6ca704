"""Sliced inference (`--slice`): a YOLO run predicts S x S slices of a large image, plus optionally
one full-image pass, and the detections are merged back into full-image XYXY boxes (pixel edges).

Slicing, shifting and merging are sahi's (``get_sliced_prediction``, Akyon et al., ICIP 2022),
fed with the Ultralytics model wood already loaded offline (:func:`wood.eval.yolo_run.load_yolo`):
sahi never loads or downloads a model itself. Two things of sahi's are kept out:

- its device selection (``select_device("cpu")`` sets ``CUDA_VISIBLE_DEVICES=-1`` for the whole
  process): the device goes to Ultralytics as wood's other predictions give it;
- masks: only boxes are carried through slices. sahi turns every slice's mask into polygons and
  back, which is slow and lossy at full size; a YOLO-seg run is refused for `wood predict` and
  `wood eval detect` (its masks would be missing), and gives its boxes for `wood eval segment`.

Merging (``--slice-merge``): ``nms`` keeps the best of boxes overlapping at IoU > 0.5 (per class);
``nmm`` is sahi's greedy non-maximum merging: boxes whose intersection over the smaller box is
> 0.5 are merged into their union (the best score kept), which joins an object cut by slice borders.

``--slice-drop-cut`` (wood's, not sahi's: sahi merges every slice box it is given; on by default
with the whole-image pass) drops, before the merge, a slice's boxes that touch one of its borders
lying inside the image: such a box is a fragment of an object that goes on past the slice (a
scratch longer than a slice comes back as several short boxes, each a false positive under COCO).
An object narrower than the overlap lies whole in a neighbouring slice; a larger one is left to the
whole-image pass, which is why the option needs ``--slice-full``. In bench/tiling.py it raised the
tiled arm's sliced mAP50 by 1.25x (18 epochs) and 1.76x (36 epochs) with APs level or up.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable

import numpy as np

from wood.errors import ConfigError
from wood.eval.detections import Detections

MIN_SLICE = 32
"""Smallest slice side (px): YOLO's largest stride."""
MAX_OVERLAP = 0.9
DEFAULT_OVERLAP = 0.2
"""--slice-overlap when not given (SAHI's default)."""
"""Slice overlap must be in [0, MAX_OVERLAP): at 0.9 a 256-px slice moves by 25 px."""
MERGES = {"nms": ("NMS", "IOU"), "nmm": ("GREEDYNMM", "IOS")}
"""--slice-merge -> (sahi postprocess type, match metric)."""
MATCH_THRESHOLD = 0.5
"""IoU (nms) or intersection over the smaller box (nmm) above which two boxes are one object."""
SLICE_BATCH = 8
"""Slices given to Ultralytics at once."""
CUT_MARGIN = 2.0
"""--slice-drop-cut: a box within this many px of an inner slice border touches it."""


@dataclass(frozen=True)
class SliceSettings:
    """How to slice: ``size`` x ``size`` px slices overlapping by ``overlap`` of a side, plus one
    full-image pass when ``full``, merged by ``merge`` (nms | nmm)."""

    size: int
    overlap: float = 0.2
    full: bool = True
    merge: str = "nms"
    drop_cut: bool = False

    def record(self) -> dict[str, Any]:
        """What eval JSONs record under ``"slice"``."""
        return {
            "size": self.size,
            "overlap": self.overlap,
            "full_image_pass": self.full,
            "merge": self.merge,
            "drop_cut": self.drop_cut,
            "match_threshold": MATCH_THRESHOLD,
            "engine": "sahi",
        }


def slice_settings(
    size: int | None,
    overlap: float | None = None,
    full: bool | None = None,
    merge: str | None = None,
    drop_cut: bool | None = None,
) -> SliceSettings | None:
    """Checked settings from the CLI options (None: no slicing); a ConfigError names the bad option.

    None is an option not given: ``overlap`` 0.2, ``full`` True, ``merge`` nms, and ``drop_cut`` on
    exactly when the whole-image pass is. Without ``size`` (no --slice) any option given is refused:
    it would be ignored."""
    if size is None:
        given = {"--slice-overlap": overlap, "--slice-full": full, "--slice-merge": merge, "--slice-drop-cut": drop_cut}
        for flag, value in given.items():
            if value is not None:
                spelled = flag if value is not False else "--no-" + flag[2:]
                raise ConfigError(f"{spelled} needs --slice SIZE: without it images are not sliced (drop {spelled})")
        return None
    overlap = DEFAULT_OVERLAP if overlap is None else overlap
    full = True if full is None else full
    merge = "nms" if merge is None else merge
    if size < MIN_SLICE:
        raise ConfigError(f"--slice must be at least {MIN_SLICE} px, but got {size}")
    if not 0.0 <= overlap < MAX_OVERLAP:
        raise ConfigError(f"--slice-overlap must be in [0, {MAX_OVERLAP}), but got {overlap}")
    if merge not in MERGES:
        raise ConfigError(f"--slice-merge must be one of {list(MERGES)}, but got {merge!r}")
    if drop_cut and not full:
        raise ConfigError(
            "--slice-drop-cut needs --slice-full: objects larger than the overlap are cut in every slice, "
            "and only the whole-image pass would still find them"
        )
    return SliceSettings(int(size), float(overlap), bool(full), merge, bool(full if drop_cut is None else drop_cut))


def check_fits(settings: SliceSettings | None, sizes: Iterable[tuple[int, int]], source: str) -> None:
    """A ConfigError when the slice is larger than any image (``sizes``: (width, height) each)."""
    if settings is None:
        return
    for w, h in sizes:
        if settings.size > min(w, h):
            raise ConfigError(f"--slice {settings.size} is larger than an image of {source} ({w}x{h})")


def check_sliceable(settings: SliceSettings | None, task: str | None, what: str) -> None:
    """Sliced inference carries boxes only: a ConfigError for a segment model where masks are wanted."""
    if settings is not None and task == "segment":
        raise ConfigError(
            f"--slice gives boxes only, but {what} of a YOLO-seg run needs its masks: drop --slice or use a detect run"
        )


def slice_windows(height: int, width: int, settings: SliceSettings) -> list[list[int]]:
    """The slices sahi predicts, as XYXY pixel windows of an (H, W) image (the last row and column are
    moved inwards so that every slice is ``size`` x ``size``)."""
    from sahi.slicing import get_slice_bboxes

    return get_slice_bboxes(height, width, settings.size, settings.size, False, settings.overlap, settings.overlap)


def cut_by_inner_border(
    box: tuple[float, float, float, float], window: tuple[int, int, int, int], image_wh: tuple[int, int]
) -> bool:
    """Whether ``box`` (XYXY, image px) touches, within CUT_MARGIN, a side of its slice ``window``
    (XYXY, image px) that lies inside the image of ``image_wh`` (a side on the image's own edge is no cut)."""
    x0, y0, x1, y1 = box
    wx0, wy0, wx1, wy1 = window
    width, height = image_wh
    return (
        (wx0 > 0 and x0 <= wx0 + CUT_MARGIN)
        or (wy0 > 0 and y0 <= wy0 + CUT_MARGIN)
        or (wx1 < width and x1 >= wx1 - CUT_MARGIN)
        or (wy1 < height and y1 >= wy1 - CUT_MARGIN)
    )


def slice_box_cut(prediction: Any, slice_shape: tuple[int, ...], full_hw: list[Any]) -> bool:
    """:func:`cut_by_inner_border` for a sahi ObjectPrediction (box in slice px, shifted by its
    bbox.shift_x/y) of a slice of ``slice_shape`` (H, W, ...) cut from an image of ``full_hw``."""
    sx, sy = prediction.bbox.shift_x, prediction.bbox.shift_y
    x0, y0, x1, y1 = prediction.bbox.to_xyxy()
    window = (sx, sy, sx + int(slice_shape[1]), sy + int(slice_shape[0]))
    return cut_by_inner_border((x0 + sx, y0 + sy, x1 + sx, y1 + sy), window, (int(full_hw[1]), int(full_hw[0])))


def sahi_model(model: Any, imgsz: int, device: str | None, conf: float, drop_cut: bool = False) -> Any:
    """sahi's Ultralytics wrapper around an already loaded Ultralytics ``model`` (detect, YOLO-World,
    or a YOLO-seg run whose boxes alone are used), predicting at ``imgsz`` on ``device``; with
    ``drop_cut`` a slice's boxes cut by an inner slice border are dropped (see the module doc)."""
    from sahi.models.ultralytics import UltralyticsDetectionModel

    class WoodUltralytics(UltralyticsDetectionModel):
        def set_device(self, device: str | None = None) -> None:
            self.device = device  # Ultralytics' spelling; sahi's select_device would edit CUDA_VISIBLE_DEVICES

        @property
        def has_mask(self) -> bool:
            return False  # boxes only (see the module doc)

        @property
        def is_obb(self) -> bool:
            return False

        def _create_object_prediction_list_from_original_predictions(
            self, shift_amount_list: Any = None, full_shape_list: Any = None
        ) -> None:
            super()._create_object_prediction_list_from_original_predictions(
                [[0, 0]] if shift_amount_list is None else shift_amount_list, full_shape_list
            )
            if drop_cut and full_shape_list is not None:
                from sahi.utils.compatibility import fix_full_shape_list

                self._object_prediction_list_per_image = [
                    [p for p in preds if not slice_box_cut(p, shape, full)]
                    for preds, shape, full in zip(
                        self._object_prediction_list_per_image,
                        self._original_shapes,
                        fix_full_shape_list(full_shape_list),
                        strict=True,
                    )
                ]

    names = model.names if isinstance(model.names, dict) else dict(enumerate(model.names))
    mapping = {str(k): str(v) for k, v in names.items()}
    return WoodUltralytics(
        model=model, device=device, confidence_threshold=conf, category_mapping=mapping, image_size=imgsz
    )


Predictor = Callable[[np.ndarray], Detections]


def sliced_predictor(
    model: Any, settings: SliceSettings, imgsz: int, device: str | None, conf: float, max_det: int
) -> Predictor:
    """A function RGB (H, W, 3) uint8 -> its merged Detections (boxes in full-image pixels, best score first,
    at most ``max_det``; no masks)."""
    from sahi.predict import get_sliced_prediction

    wrapped = sahi_model(model, imgsz, device, conf, settings.drop_cut)
    post, metric = MERGES[settings.merge]

    def predict(rgb: np.ndarray) -> Detections:
        quiet = logging.getLogger("sahi")
        level = quiet.level
        quiet.setLevel(logging.ERROR)  # sahi warns once per clipped box
        try:
            result = get_sliced_prediction(
                np.ascontiguousarray(rgb),
                wrapped,
                slice_height=settings.size,
                slice_width=settings.size,
                overlap_height_ratio=settings.overlap,
                overlap_width_ratio=settings.overlap,
                perform_standard_pred=settings.full,
                postprocess_type=post,
                postprocess_match_metric=metric,
                postprocess_match_threshold=MATCH_THRESHOLD,
                postprocess_class_agnostic=False,
                verbose=0,
                batch_size=SLICE_BATCH,
                force_postprocess_type=True,  # sahi would switch to NMS at conf < 0.1
            )
        finally:
            quiet.setLevel(level)
        return Detections.from_sahi(result.object_prediction_list, max_det)

    return predict


class Timer:
    """Wall-clock ms of each prediction; ``ms_per_image`` is their median (the first call's warm-up
    does not count more than any other)."""

    def __init__(self) -> None:
        self.ms: list[float] = []

    def __enter__(self) -> Timer:
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.ms.append((time.perf_counter() - self._start) * 1000.0)

    @property
    def ms_per_image(self) -> float | None:
        return round(float(np.median(self.ms)), 2) if self.ms else None
