"""`wood predict` on a prepared split uses that split's COCO image ids, so pycocotools loads its results
against ``coco/<split>.json`` with every prediction on the right image."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _cli import run_cli
from _label_fixtures import tiny_seg_run  # noqa: F401 - pytest fixture

from wood.deploy.predict_ids import image_ids


def _load_against(gt_path: Path, results_path: Path):
    from pycocotools.coco import COCO

    gt = COCO(str(gt_path))
    return gt, gt.loadRes(str(results_path))


def test_ids_of_a_prepared_split_and_of_an_explicit_file(prepared: Path, tmp_path: Path):
    gt = json.loads((prepared / "coco" / "test.json").read_text())
    files = sorted((prepared / "yolo" / "images" / "test").iterdir())[::-1]  # another order than the json's
    ids, source = image_ids(files)
    by_name = {im["file_name"]: im["id"] for im in gt["images"]}
    assert source == prepared / "coco" / "test.json" and ids == [by_name[f.name] for f in files]
    assert ids != list(range(1, len(files) + 1))
    seg_files = sorted((prepared / "yolo-seg" / "images" / "test").iterdir())
    assert image_ids(seg_files)[0] == [by_name[f.name] for f in seg_files]
    mixed = [files[0], next((prepared / "yolo" / "images" / "val").iterdir())]
    assert image_ids(mixed) == ([1, 2], None)  # two splits: no single ground truth
    assert image_ids(files[:2], prepared / "coco" / "test.json")[0] == ids[:2]


def test_an_image_missing_from_coco_is_one_line(prepared: Path, tmp_path: Path, capsys):
    val_image = next((prepared / "yolo" / "images" / "val").iterdir())
    argv = ["predict", val_image, "--weights", tmp_path / "x.pt", "--coco", prepared / "coco" / "test.json"]
    code, err = run_cli(argv, capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1 and "is not in this COCO file" in err


@pytest.mark.slow
def test_predict_results_load_against_the_prepared_coco(prepared: Path, tiny_seg_run: Path, tmp_path: Path):  # noqa: F811
    from wood.deploy.predict import predict_images

    out_json = predict_images(tiny_seg_run, [prepared / "yolo" / "images" / "test"], out=tmp_path / "p", conf=1e-6)
    summary = json.loads(out_json.read_text())
    assert summary["coco_gt"] == str(prepared / "coco" / "test.json")
    results = tmp_path / "p" / "predictions_coco.json"
    gt, dt = _load_against(prepared / "coco" / "test.json", results)
    assert len(dt.getAnnIds()) > 0 and set(dt.getImgIds()) <= set(gt.getImgIds())
    table = json.loads((tmp_path / "p" / "predictions_coco_images.json").read_text())
    for entry in table["images"]:  # the id -> file table agrees with the ground truth's
        assert gt.imgs[entry["id"]]["file_name"] == Path(entry["file_name"]).name
    for record in summary["images"]:
        assert gt.imgs[record["id"]]["file_name"] == Path(record["file"]).name
        n = len(record["detections"])
        assert len(dt.getAnnIds(imgIds=[record["id"]])) == n
