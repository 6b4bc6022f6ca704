"""`wood label`'s outputs read back by the real tools: datumaro imports the CVAT COCO 1.0 zip and the COCO
output with the same counts and masks as wood wrote (holes, several components, box-only labels);
label-studio-sdk's brush decoder reads the Label Studio tasks back to the same masks; YOLO-seg lines
rasterise back as Ultralytics does. Hand-made records, so every shape path is covered."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest
from _label_fixtures import brush_module

from wood.deploy.label import formats
from wood.deploy.label.brush import encode_mask
from wood.prep.formats.coco_masks import encode_rle, segmentation_to_mask

NAMES = ["color", "hole", "scratch"]
H, W = 48, 64


def _masks() -> list[np.ndarray]:
    ring = np.zeros((H, W), bool)
    cv2.circle(ring.view(np.uint8), (20, 20), 10, 1, -1)
    cv2.circle(ring.view(np.uint8), (20, 20), 4, 0, -1)  # a hole: RLE
    two = np.zeros((H, W), bool)
    two[5:9, 40:60] = True
    two[30:44, 50:54] = True  # two components: two exact polygons
    line = np.zeros((H, W), bool)
    cv2.line(line.view(np.uint8), (2, 46), (30, 30), 1, 1)  # thin diagonal
    return [ring, two, line]


@pytest.fixture
def records(tmp_path: Path) -> list[dict]:
    rgb = np.full((H, W, 3), 128, np.uint8)
    out = []
    masks = _masks()
    for k, name in enumerate(["a.png", "b.png"]):
        path = tmp_path / "src" / name
        path.parent.mkdir(exist_ok=True)
        cv2.imwrite(str(path), rgb)
        labels = [
            {
                "class_id": i,
                "class": NAMES[i],
                "score": 0.5 + 0.1 * i,
                "box_xyxy": [0, 0, 10, 10],
                "mask": encode_rle(m),
            }
            for i, m in enumerate(masks if k == 0 else masks[1:2])
        ]
        if k == 1:
            labels.append(
                {"class_id": 2, "class": "scratch", "score": 0.3, "box_xyxy": [4.0, 6.0, 20.0, 16.0], "mask": None}
            )
        out.append({"file": str(path), "file_name": name, "width": W, "height": H, "labels": labels, "near": []})
    return out


def _expected(records):
    """(file name, class, mask or box) of every label, as wood holds them."""
    rows = []
    for r in records:
        for label in r["labels"]:
            mask = None if label["mask"] is None else segmentation_to_mask(label["mask"], H, W)
            rows.append((r["file_name"], label["class"], mask, label["box_xyxy"]))
    return rows


def _datumaro_rows(path: Path):
    """datumaro's reading: one row (file name, class, mask or None, bbox [x, y, w, h]) per COCO annotation
    (datumaro splits one into its polygons, mask and bbox, sharing a group)."""
    import datumaro as dm
    from datumaro.components.annotation import AnnotationType
    from pycocotools import mask as mask_utils

    dataset = dm.Dataset.import_from(str(path), "coco_instances")
    names = [c.name for c in dataset.categories()[AnnotationType.label]]
    groups: dict = {}
    for item in dataset:
        name = Path(item.media.path).name
        for ann in item.annotations:
            row = groups.setdefault((name, ann.group), {"class": names[ann.label], "mask": None, "bbox": None})
            assert row["class"] == names[ann.label]
            if ann.type == AnnotationType.mask:
                part = ann.image.astype(bool)
            elif ann.type == AnnotationType.polygon:
                part = mask_utils.decode(mask_utils.frPyObjects([list(ann.points)], H, W))[:, :, 0].astype(bool)
            else:
                assert ann.type == AnnotationType.bbox
                row["bbox"] = list(ann.get_bbox())
                continue
            row["mask"] = part if row["mask"] is None else row["mask"] | part
    rows = [(name, r["class"], r["mask"], r["bbox"]) for (name, _), r in groups.items()]
    return dataset, rows


def _check_against(records, rows):
    """datumaro's rows give back wood's labels: the same count, classes, masks (and boxes for box-only labels)."""
    key = lambda t: (t[0], t[1], -1 if t[2] is None else int(t[2].sum()))  # noqa: E731
    got, want = sorted(rows, key=key), sorted(_expected(records), key=key)
    assert [(n, c) for n, c, _, _ in got] == [(n, c) for n, c, _, _ in want]
    for (_, _, mask, bbox), (_, _, wood_mask, box) in zip(got, want, strict=True):
        if wood_mask is None:
            x0, y0, x1, y1 = box
            assert mask is None and bbox == pytest.approx([x0, y0, x1 - x0, y1 - y0])
        else:
            assert np.array_equal(mask, wood_mask)


def test_cvat_zip_imports_into_datumaro_with_wood_masks(records, tmp_path: Path):
    out = tmp_path / "cvat"
    out.mkdir()
    formats.write_cvat(out, records, NAMES)
    with zipfile.ZipFile(out / formats.CVAT_ZIP) as zf:
        assert sorted(zf.namelist()) == ["annotations/instances_default.json", "images/a.png", "images/b.png"]
        coco = json.loads(zf.read(formats.CVAT_JSON))
        zf.extractall(tmp_path / "unzipped")
    crowd = {a["iscrowd"] for a in coco["annotations"] if isinstance(a["segmentation"], dict)}
    assert crowd == {1}  # RLE masks as CVAT expects them
    assert {a["iscrowd"] for a in coco["annotations"] if isinstance(a["segmentation"], list)} == {0}
    assert all("score" in a for a in coco["annotations"])
    dataset, rows = _datumaro_rows(tmp_path / "unzipped")
    assert len(dataset) == 2
    _check_against(records, rows)


def test_coco_output_imports_into_datumaro_and_pycocotools(records, tmp_path: Path):
    from pycocotools.coco import COCO

    out = tmp_path / "coco"
    out.mkdir()
    formats.write_coco(out, records, NAMES)
    coco = json.loads((out / "annotations.json").read_text())
    assert {a["iscrowd"] for a in coco["annotations"]} == {0}  # COCOeval ignores crowd: plain COCO keeps 0
    gt = COCO(str(out / "annotations.json"))
    for ann in gt.anns.values():
        if ann["segmentation"]:
            assert gt.annToMask(ann).sum() == ann["area"]
    standard = tmp_path / "standard"
    (standard / "annotations").mkdir(parents=True)
    (standard / "annotations" / "instances_default.json").write_text((out / "annotations.json").read_text())
    (standard / "images").symlink_to(out / "images")
    dataset, rows = _datumaro_rows(standard)
    assert len(dataset) == 2 and sum(len(i.annotations) for i in dataset) >= 5
    _check_against(records, rows)


def test_label_studio_tasks_decode_with_label_studio_sdk(records, tmp_path: Path):
    brush = brush_module()
    out = tmp_path / "ls"
    out.mkdir()
    scores = {"a.png": 0.8, "b.png": 0.4}
    formats.write_label_studio(out, records, NAMES, "det+sam", "/data/local-files/?d=images/", scores)
    tasks = json.loads((out / "tasks.json").read_text())
    assert [t["data"]["image"] for t in tasks] == [
        "/data/local-files/?d=images/a.png",
        "/data/local-files/?d=images/b.png",
    ]
    config = (out / "labeling_config.xml").read_text()
    assert '<BrushLabels name="label" toName="image">' in config and '<Label value="hole"/>' in config
    for task, record in zip(tasks, records, strict=True):
        (prediction,) = task["predictions"]
        assert prediction["model_version"] == "det+sam" and prediction["score"] == scores[record["file_name"]]
        for region, label in zip(prediction["result"], record["labels"], strict=True):
            assert region["score"] == label["score"]
            if label["mask"] is None:
                assert region["type"] == "rectanglelabels" and region["value"]["width"] == pytest.approx(25.0)
                continue
            assert region["type"] == "brushlabels" and region["value"]["format"] == "rle"
            h, w = region["original_height"], region["original_width"]
            decoded = brush.decode_rle(region["value"]["rle"]).reshape(h, w, 4)[:, :, 3]  # as its converter does
            assert np.array_equal(decoded > 0, segmentation_to_mask(label["mask"], H, W))
            assert region["value"]["brushlabels"] == [label["class"]]


def test_brush_rle_is_label_studio_sdk_byte_for_byte():
    brush = brush_module()
    rng = np.random.default_rng(0)
    for shape in [(1, 1), (5, 7), (70, 90)]:
        mask = rng.random(shape) > 0.6
        assert encode_mask(mask) == brush.mask2rle(mask.astype(np.uint8) * 255)
    big = np.zeros((300, 800), bool)
    big[10:290, 5:795] = True  # runs longer than 2**16 values
    assert np.array_equal(brush.decode_rle(encode_mask(big)).reshape(300, 800, 4)[:, :, 3] > 0, big)


def test_yolo_seg_lines_rasterise_back_as_ultralytics_does(records, tmp_path: Path):
    from wood.offline import setup_ultralytics

    setup_ultralytics()  # before Ultralytics is imported: no DNS lookups
    from ultralytics.data.utils import polygon2mask

    out = tmp_path / "yolo"
    out.mkdir()
    formats.write_yolo(out, records, NAMES)
    lines = (out / "labels" / "a.txt").read_text().splitlines()
    ring, two, line = _masks()
    expected = [(0, ring), (1, two), (2, line)]
    got: dict[int, np.ndarray] = {}
    for text in lines:
        cls, *coords = text.split()
        poly = np.array(coords, float).reshape(-1, 2) * [W, H]
        got[int(cls)] = got.get(int(cls), np.zeros((H, W), bool)) | polygon2mask((H, W), [poly.reshape(-1)]).astype(
            bool
        )
    for cls, mask in expected:
        filled = mask.copy()
        if cls == 0:  # YOLO-seg has no holes: the ring comes back filled
            cv2.circle(filled.view(np.uint8), (20, 20), 4, 1, -1)
        assert np.array_equal(got[cls], filled)
    b = (out / "labels" / "b.txt").read_text().splitlines()
    assert len(b) == 3 and len(b[-1].split()) == 5  # two polygons, then the box-only label as a box line
