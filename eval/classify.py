"""`wood eval classify`: reload a run folder of `wood finetune classify` and score one split.

The metrics themselves are finetune/classify/metrics.py (the trainer writes them too).
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from wood.errors import DataError, MisMatchError
from wood.finetune.classify.metrics import save_confusion_png, split_metrics
from wood.runs import write_in_run


def evaluate_run(
    run_dir: str | Path, split: str = "test", data: str | Path | None = None, device: str = "auto"
) -> dict[str, Any]:
    """Predict ``split`` with the weights of a classify run; write eval_<split>.json and confusion_<split>.png.

    ``data`` defaults to the prepared dataset recorded in the run's config.yaml.
    """
    import torch

    from wood.device import resolve_device
    from wood.finetune.classify.data import list_split, read_images
    from wood.finetune.classify.predict import predict
    from wood.finetune.classify.run import load_model, read_run

    found = read_run(run_dir)
    run = found.path
    data_dir = Path(data) if data is not None else found.data
    dev = torch.device(resolve_device(device))
    model, meta = load_model(found.weights, dev)
    classes = meta.classes
    items = list_split(data_dir / "classify", split, classes)
    if not items:
        raise DataError(f"the {split} split has no images", data_dir / "classify" / split)
    names = {p.parent.name for p, _ in items}
    if not names <= set(classes):
        raise MisMatchError(f"classes {sorted(names - set(classes))} were not in the run's classes {classes}", data_dir)
    loaded = read_images(items, meta.imgsz, f"loading {split}")
    preds = predict(model, loaded.images, dev)
    result = split_metrics(loaded.labels.numpy(), preds, classes)
    result.update({"split": split, "data": str(data_dir), "run": str(run), "classes": classes})
    from wood.eval.anomaly.scale import classify_scale  # image AUROC of 1 - p(good), as anomaly runs

    result["anomaly_scale"] = classify_scale(model, loaded.images, loaded.labels.numpy(), classes, dev)
    with tempfile.TemporaryDirectory() as scratch:  # drawn aside, then written into the run in one step
        png = Path(scratch) / "confusion.png"
        save_confusion_png(np.array(result["confusion"]), classes, png, f"{run.name} {split}")
        text = json.dumps(result, indent=2).encode("utf-8")
        files = {f"eval_{split}.json": text, f"confusion_{split}.png": png.read_bytes()}
    write_in_run(run, files)  # a file of that name wood did not write is refused, never replaced
    return result
