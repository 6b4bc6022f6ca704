"""Hostile-input rows for `wood paste`, `wood finetune yolo|sam|classify` and `wood experiments` (the table is
tests/cli/test_hostile.py; a row is (id, build, needles) as in tests/_hostile_rows_prep.py). No row trains a model:
each fails before training would start.
"""

from __future__ import annotations

import json
from pathlib import Path

from _hostile_world import (
    World,
    edited_prep,
    first,
    link_to_user_folder,
    long_name,
    long_path,
    prep_copy,
    set_field,
    set_instance,
    user_folder,
    write_file,
)

CPU = ("--device", "cpu")


# ---------------------------------------------------------------- paste: edited prep outputs
def images0_string(m: dict) -> None:
    m["images"][0] = "color_000.png"


def _duplicate(m: dict) -> None:
    m["images"].append(dict(first("test")(m)))


def coco_name(value):
    return lambda coco: coco["images"][0].__setitem__("file_name", value)


def coco_images_dir(coco: dict) -> None:
    coco["info"]["images_dir"] = "../../../elsewhere"


def _paste(prep, *extra):
    return lambda w, t: ["paste", prep(w, t), "--out", t / "out" / "pasted", "--images", "2", "--workers", "1", *extra]


def _victim(w: World, tmp: Path) -> Path:
    """The prep copy whose test record is named `../../../../victim.png`, and a victim file there."""
    prep = edited_prep(set_field("test", "name", "../../../../victim.png"))(w, tmp)
    write_file(tmp / "victim.png", "the user's picture\n")
    return prep


def _edited(edit, coco: str | None = None):
    return _paste(edited_prep(edit, coco))


PASTE = [
    (
        "paste-name-escapes-the-folder",
        lambda w, t: ["paste", _victim(w, t), "--out", t / "out" / "p", "--workers", "1"],
        "images[1].name '../../../../victim.png' is a path, not a plain file name",
    ),
    ("paste-name-absolute", _edited(set_field("test", "name", "/etc/hostname")), "is a path, not a plain file name"),
    ("paste-name-dot-dot", _edited(set_field("val", "name", "..")), "'..' is not a file name"),
    ("paste-name-not-a-string", _edited(set_field("train", "name", 7)), "is int 7, not a string"),
    ("paste-name-with-nul", _edited(set_field("test", "name", "a\0b.png")), "is a path"),
    ("paste-name-listed-twice", _edited(_duplicate), "is listed twice"),
    ("paste-images-0-is-a-string", _edited(images0_string), "images[0] is a str, not a JSON object"),
    ("paste-split-bogus", _edited(set_field("test", "split", "holdout")), "split is 'holdout'"),
    ("paste-defect-is-a-path", _edited(set_field("test", "defect", "../../x")), "defect '../../x' is a path"),
    ("paste-sha256-not-hex", _edited(set_field("test", "sha256", "abc")), "not a sha256 hex digest"),
    ("paste-height-0", _edited(set_field("test", "height", 0)), "height is 0"),
    ("paste-instances-not-a-list", _edited(set_field("train", "instances", "many", True)), "instances is not a list"),
    (
        "paste-bbox-edited",
        _edited(set_instance("bbox_xyxy", [0, 0, 5, 5])),
        "bbox_xyxy is [0, 0, 5, 5], its mask in coco/train.json gives",
    ),
    ("paste-area-edited", _edited(set_instance("area", 1)), "area is 1, its mask"),
    ("paste-class-id-edited", _edited(set_instance("class_id", 3)), "class_id is 3, its mask"),
    (
        "paste-instance-removed",
        _edited(lambda m: first("train", True)(m)["instances"].pop()),
        "lists 2 instance(s), train.json holds 3",
    ),
    (
        "paste-coco-bbox-edited",
        _edited(lambda c: c["annotations"][0].__setitem__("bbox", [0, 0, 1, 1]), coco="train"),
        "has bbox [0, 0, 1, 1], its mask gives",
    ),
    (
        "paste-coco-file-name-escapes",
        _edited(coco_name("../../../victim.png"), coco="val"),
        "val.json: images[0].file_name '../../../victim.png' is a path",
    ),
    ("paste-out-name-300-bytes", lambda w, t: ["paste", w.prep, "--out", long_name(t)]),
    ("paste-out-path-4k", lambda w, t: ["paste", w.prep, "--out", long_path(t)]),
    (
        "paste-out-symlink-to-a-user-folder",
        lambda w, t: ["paste", w.prep, "--out", link_to_user_folder(t)],
        "mine: folder exists and is not a wood prep output",
    ),
    ("paste-images-0", lambda w, t: ["paste", w.prep, "--out", t / "out" / "p", "--images", "0"]),
]


# ---------------------------------------------------------------- finetune, experiments
def _yolo(data, *extra, epochs: bool = True):
    """``epochs=False`` where a --config's own value is the one under test."""
    base = ["finetune", "yolo", "--data", data, "--model", "yolov8n.yaml", "--imgsz", "64"]
    return [*base, *(["--epochs", "1"] if epochs else []), *CPU, *extra]


def yolo_out(data, tmp, *extra):
    return _yolo(data, "--out", tmp / "out", *extra)


def _yolo_config(text):
    return lambda w, t: _yolo(w.prep, "--out", t / "out", "--config", write_file(t / "cfg.yaml", text), epochs=False)


def _sam(data, tmp, *extra):
    return ["finetune", "sam", "--data", data, "--model", "tiny", "--epochs", "1", "--out", tmp / "out", *extra]


def _sam_cpu(data, *extra):
    return ["finetune", "sam", "--data", data, "--model", "tiny", "--epochs", "1", *CPU, *extra]


def _classify(data, *extra):
    return ["finetune", "classify", "--data", data, "--epochs", "1", "--imgsz", "16", "--batch", "4", *extra]


def _classify_out(data, tmp, *extra):
    return _classify(data, "--out", tmp / "out", *extra)


def _yolo_name_taken(w, tmp):
    """A taken --name gets -2 (wood.runs); --exist-ok would replace it, but it is not a wood run."""
    user_folder(tmp / "out", "detect")
    return yolo_out(w.prep, tmp, "--name", "detect", "--exist-ok")


def _yolo_bad_manifest(w, tmp):
    data = prep_copy(w, tmp)
    write_file(data / "manifest.json", json.dumps({"format": "someone-else/3"}))
    return yolo_out(data, tmp)


def _sam_coco(edit):
    return lambda w, t: _sam_cpu(edited_prep(edit, coco="train")(w, t), "--out", t / "out")


YOLO = [
    ("yolo-missing-data", lambda w, t: yolo_out(t / "nope", t)),
    ("yolo-data-not-a-prep-output", lambda w, t: yolo_out(user_folder(t), t)),
    ("yolo-prep-without-manifest", lambda w, t: yolo_out(prep_copy(w, t, "manifest.json"), t)),
    ("yolo-prep-manifest-other-format", _yolo_bad_manifest),
    (
        "yolo-prep-without-labels",
        lambda w, t: yolo_out(prep_copy(w, t, "yolo/labels"), t),
        "yolo/labels/train: label folder is missing",
    ),
    (
        "yolo-prep-without-train-images",
        lambda w, t: yolo_out(prep_copy(w, t, "yolo/images/train"), t),
        "yolo/images/train: image folder is missing",
    ),
    (
        "yolo-segment-prep-without-val-labels",
        lambda w, t: yolo_out(
            prep_copy(w, t, "yolo-seg/labels/val"), t, "--task", "segment", "--model", "yolov8n-seg.yaml"
        ),
        "yolo-seg/labels/val: label folder is missing",
    ),
    ("yolo-weights-do-not-exist", lambda w, t: yolo_out(w.prep, t, "--model", "/nope.pt")),
    ("yolo-model-is-a-txt", lambda w, t: yolo_out(w.prep, t, "--model", w.text)),
    ("yolo-unknown-task", lambda w, t: yolo_out(w.prep, t, "--task", "classify")),
    ("yolo-epochs-0", lambda w, t: yolo_out(w.prep, t, "--epochs", "0")),
    ("yolo-epochs-negative", lambda w, t: yolo_out(w.prep, t, "--epochs", "-1")),
    ("yolo-epochs-not-a-number", lambda w, t: yolo_out(w.prep, t, "--epochs", "ten")),  # click's own parsing
    ("yolo-imgsz-0", lambda w, t: yolo_out(w.prep, t, "--imgsz", "0")),
    ("yolo-batch-0", lambda w, t: yolo_out(w.prep, t, "--batch", "0")),
    ("yolo-device-cuda-7", lambda w, t: yolo_out(w.prep, t, "--device", "cuda:7"), "device 'cuda:7'"),
    ("yolo-device-gpu", lambda w, t: yolo_out(w.prep, t, "--device", "gpu")),
    ("yolo-config-wrong-type", _yolo_config("epochs: ten\n"), "cfg.yaml: epochs must be an int, but got 'ten'"),
    ("yolo-config-unknown-key", _yolo_config("epoch: 3\n")),
    ("yolo-config-not-a-mapping", _yolo_config("- epochs\n- 3\n")),
    ("yolo-config-not-yaml", _yolo_config("epochs: [3\n")),
    ("yolo-config-reserved-train-arg", _yolo_config("train_args: {epochs: 3}\n")),
    (
        "yolo-config-error-on-two-lines",
        lambda w, t: _yolo(w.prep, "--out", t / "out", "--config", write_file(t / "y.yaml", "epochs: [1\nbatch: 2\n")),
    ),
    ("yolo-run-name-is-a-user-folder", _yolo_name_taken, "is not a wood run output"),
    ("yolo-run-name-300-bytes", lambda w, t: _yolo(w.prep, "--out", t / "out", "--name", "r" * 300)),
    ("yolo-out-path-4k", lambda w, t: _yolo(w.prep, "--out", long_path(t))),
    ("yolo-resume-missing-run", lambda w, t: yolo_out(w.prep, t, "--name", "gone", "--resume")),
    (
        "yolo-world-prompts-file-missing",
        lambda w, t: yolo_out(w.prep, t, "--world", "--model", "yolov8n-worldv2.yaml", "--prompts", t / "nope.yaml"),
    ),
]

SAM = [
    ("sam-missing-data", lambda w, t: _sam(t / "nope", t)),
    ("sam-prep-without-images", lambda w, t: _sam(prep_copy(w, t, "yolo/images"), t)),
    ("sam-adapter-bogus", lambda w, t: _sam(w.prep, t, "--adapter", "bogus")),
    ("sam-lora-r-0", lambda w, t: _sam(w.prep, t, "--lora-r", "0")),
    ("sam-zoom-below-1", lambda w, t: _sam(w.prep, t, "--zoom", "0.5"), "zoom must be 0 (off) or >= 1"),
    ("sam-zoom-with-points", lambda w, t: _sam(w.prep, t, "--zoom", "2", "--prompt", "points"), "(points)"),
    ("sam-device-cuda-7", lambda w, t: _sam(w.prep, t, "--device", "cuda:7"), "device 'cuda:7'"),
    ("sam-device-index", lambda w, t: _sam(w.prep, t, "--device", "7")),
    (
        "sam-config-wrong-type",
        lambda w, t: _sam(w.prep, t, "--config", write_file(t / "cfg.yaml", "lora_r: four\n")),
        "cfg.yaml: lora_r must be an int, but got 'four'",
    ),
    ("sam-official-weights-missing", lambda w, t: _sam(w.prep, t, "--model", "vit_b")),
    ("sam-checkpoint-not-weights", lambda w, t: _sam(w.prep, t, "--checkpoint", w.text)),
    ("sam-resume-missing-run", lambda w, t: _sam(w.prep, t, "--name", "gone", "--resume")),
    ("sam-run-name-300-bytes", lambda w, t: _sam_cpu(w.prep, "--out", t / "out", "--name", "r" * 300)),
    ("sam-out-path-4k", lambda w, t: _sam_cpu(w.prep, "--out", long_path(t))),
    (
        "sam-coco-file-name-escapes",
        _sam_coco(coco_name("../../../victim.png")),
        "train.json: images[0].file_name '../../../victim.png' is a path",
    ),
    ("sam-coco-images-dir-outside", _sam_coco(coco_images_dir), "info.images_dir '../../../elsewhere' points outside"),
]

CLASSIFY = [
    ("classify-missing-data", lambda w, t: _classify_out(t / "nope", t)),
    ("classify-unknown-arch", lambda w, t: _classify_out(w.prep, t, "--arch", "vgg")),
    ("classify-device-cuda-7", lambda w, t: _classify_out(w.prep, t, "--device", "cuda:7"), "device 'cuda:7'"),
    (
        "classify-config-wrong-type",
        lambda w, t: _classify_out(w.prep, t, "--config", write_file(t / "cfg.yaml", "lr: fast\n")),
        "cfg.yaml: lr must be a float, but got 'fast'",
    ),
    (
        "classify-pretrained-weights-missing",
        lambda w, t: _classify_out(
            w.prep, t, "--arch", "resnet18", "--strategy", "transfer", "--weights", t / "nope.pth"
        ),
    ),
    ("classify-batch-1", lambda w, t: _classify_out(w.prep, t, "--batch", "1")),
    ("classify-run-name-300-bytes", lambda w, t: _classify(w.prep, "--out", t / "out", "--name", "r" * 300)),
    ("classify-out-path-4k", lambda w, t: _classify(w.prep, "--out", long_path(t))),
    (
        "experiments-classify-out-path-4k",
        lambda w, t: ["experiments", "classify", "--data", w.prep, "--out", long_path(t)],
    ),
    (
        "experiments-classify-missing-data",
        lambda w, t: ["experiments", "classify", "--data", t / "nope", "--out", t / "o"],
        "no classify/ folder",
    ),
]

ROWS = PASTE + YOLO + SAM + CLASSIFY
