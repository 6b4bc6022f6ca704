"""`wood label` end to end with tiny runs: a YOLO-seg detector, SAM on its boxes, each format written as
one complete folder with the review order beside it; bad inputs are one line, exit 2, nothing written."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest
from _cli import run_cli
from _label_fixtures import tiny_seg_run  # noqa: F401 - pytest fixture
from _sam_fixtures import train_tiny_sam

LOW = ["--conf", "0.0001", "--near", "0.00001"]  # a 1-epoch detector scores ~1e-3: label what it finds


@pytest.fixture(scope="module")
def tiny_sam_run(prepared: Path, tmp_path_factory) -> Path:
    return train_tiny_sam(prepared, tmp_path_factory.mktemp("label-sam"))


@pytest.fixture(scope="module")
def new_images(prepared: Path, tmp_path_factory) -> Path:
    """Four test images of the prepared category in a folder of their own (a 'new batch')."""
    folder = tmp_path_factory.mktemp("batch")
    for f in sorted((prepared / "yolo" / "images" / "test").iterdir())[:4]:
        (folder / f.name).write_bytes(f.read_bytes())
    return folder


@pytest.mark.slow
def test_label_writes_cvat_zip_and_label_studio_tasks_with_sam_masks(
    tiny_seg_run: Path,  # noqa: F811
    tiny_sam_run: Path,
    new_images: Path,
    tmp_path: Path,
    capsys,
):
    argv = ["label", new_images, "--run", tiny_seg_run, "--sam", tiny_sam_run, *LOW, "--device", "cpu"]
    code, err = run_cli([*argv, "--out", tmp_path / "cvat", "--format", "cvat"], capsys)
    assert code == 0, err
    order = json.loads((tmp_path / "cvat" / "review_order.json").read_text())
    names = sorted(p.name for p in new_images.iterdir())
    assert sorted(r["file_name"] for r in order["images"]) == names and order["model_version"].endswith(
        "+" + tiny_sam_run.name
    )
    values = [r["uncertainty"] for r in order["images"]]
    assert values == sorted(values, reverse=True) and [r["rank"] for r in order["images"]] == [1, 2, 3, 4]
    assert (tmp_path / "cvat" / "review_order.txt").read_text().split() == [r["file_name"] for r in order["images"]]
    with zipfile.ZipFile(tmp_path / "cvat" / "labels_cvat.zip") as zf:
        coco = json.loads(zf.read("annotations/instances_default.json"))
    assert sum(r["labels"] for r in order["images"]) == len(coco["annotations"]) > 0
    assert all(a["segmentation"] for a in coco["annotations"] if a["area"] > 0)  # SAM masks, not boxes
    assert {c["name"] for c in coco["categories"]} == {"color", "combined", "hole", "liquid", "scratch"}

    code, err = run_cli([*argv, "--out", tmp_path / "ls", "--format", "label-studio"], capsys)
    assert code == 0, err
    tasks = json.loads((tmp_path / "ls" / "tasks.json").read_text())
    regions = [r for t in tasks for p in t["predictions"] for r in p["result"]]
    assert len(regions) == len(coco["annotations"]) and all("score" in r for r in regions)
    assert {r["type"] for r in regions} <= {"brushlabels", "rectanglelabels"}
    assert sorted(p.name for p in (tmp_path / "ls" / "images").iterdir()) == names

    code, err = run_cli([*argv, "--out", tmp_path / "cvat", "--format", "coco"], capsys)  # replaces its own output
    assert code == 0, err and (tmp_path / "cvat" / "annotations.json").is_file()
    assert not (tmp_path / "cvat" / "labels_cvat.zip").exists()


@pytest.mark.slow
def test_label_yolo_from_the_detector_alone(tiny_seg_run: Path, new_images: Path, tmp_path: Path, capsys):  # noqa: F811
    out = tmp_path / "y"
    code, err = run_cli(["label", new_images, "--run", tiny_seg_run, *LOW, "--out", out, "--format", "yolo"], capsys)
    assert code == 0, err
    assert sorted(p.name for p in (out / "labels").iterdir()) == sorted(p.stem + ".txt" for p in new_images.iterdir())
    assert "names" in (out / "data.yaml").read_text()


def test_bad_inputs_are_one_line_and_write_nothing(prepared: Path, tmp_path: Path, capsys):
    run = tmp_path / "no-run"
    images = tmp_path / "imgs"
    images.mkdir()
    cv2.imwrite(str(images / "a.png"), np.zeros((8, 8, 3), np.uint8))
    user = tmp_path / "user"
    user.mkdir()
    (user / "notes.txt").write_text("mine")
    cases = [
        (["label", tmp_path / "missing.png", "--run", run, "--out", tmp_path / "o1"], "does not exist"),
        (["label", images, "--run", run, "--out", user], "not a wood label output"),
        (["label", images, "--run", run, "--out", tmp_path / "o2", "--format", "voc"], "--format must be one of"),
        (["label", images, "--run", run, "--out", tmp_path / "o3", "--conf", "1.5"], "--conf must be in"),
    ]
    (images / "b.png").write_bytes(b"not a png")
    cases.append((["label", images, "--run", run, "--out", tmp_path / "o4"], "b.png"))
    for argv, needle in cases:
        code, err = run_cli(argv, capsys)
        assert code == 2 and len(err.strip().splitlines()) == 1 and needle in err, (argv, err)
    assert sorted(p.name for p in user.iterdir()) == ["notes.txt"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(("o", ".wood"))]


@pytest.mark.slow
def test_the_loop_label_then_import_then_prep(
    tiny_seg_run: Path,  # noqa: F811
    tiny_sam_run: Path,
    new_images: Path,
    tmp_path: Path,
    capsys,
):
    """Pre-label a batch for CVAT, read the zip with datumaro (the counts wood wrote) and bring it back with
    `wood import` as MVTec masks (the path corrected labels take), end to end."""
    import datumaro as dm

    from wood.prep.formats.coco_masks import segmentation_to_mask

    argv = ["label", new_images, "--run", tiny_seg_run, "--sam", tiny_sam_run, *LOW, "--device", "cpu"]
    code, err = run_cli([*argv, "--out", tmp_path / "cvat"], capsys)
    assert code == 0, err
    zip_path = tmp_path / "cvat" / "labels_cvat.zip"
    with zipfile.ZipFile(zip_path) as zf:
        coco = json.loads(zf.read("annotations/instances_default.json"))
        zf.extractall(tmp_path / "unzipped")
    dataset = dm.Dataset.import_from(str(tmp_path / "unzipped"), "coco_instances")
    assert len(dataset) == len(coco["images"]) == 4
    groups = {(item.id, a.group) for item in dataset for a in item.annotations}
    assert len(groups) == len(coco["annotations"])

    mvtec = tmp_path / "mvtec"
    code, err = run_cli(
        ["import", zip_path, "--out", mvtec, "--category", "wood", "--mixed", "combined", "--box-masks"], capsys
    )
    assert code == 0, err
    rows = json.loads((mvtec / "wood" / "import.json").read_text())["images"]
    assert sorted(r["file_name"] for r in rows) == sorted(p.name for p in new_images.iterdir())
    by_name = {im["file_name"]: im for im in coco["images"]}
    for row in rows:
        im = by_name[row["file_name"]]
        anns = [a for a in coco["annotations"] if a["image_id"] == im["id"] and a["segmentation"]]
        if row["mask"] is None or len(anns) != sum(1 for a in coco["annotations"] if a["image_id"] == im["id"]):
            continue
        want = np.any([segmentation_to_mask(a["segmentation"], im["height"], im["width"]) for a in anns], axis=0)
        got = cv2.imread(str(mvtec / "wood" / row["mask"]), cv2.IMREAD_GRAYSCALE) > 127
        assert np.array_equal(got, want)
