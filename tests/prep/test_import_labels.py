"""`wood import` turns COCO / CVAT COCO 1.0 / YOLO-seg labels back into the MVTec layout, so that
prep -> import(coco) -> prep gives identical masks (every instance at IoU 1.0, holes included) and the
same classes; bad labels are one line, exit 2, nothing written."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest
from _cli import run_cli
from _mvtec_fixtures import WOOD_DERIVED_512

from wood.prep.formats.coco_masks import segmentation_to_mask

SPLITS = ("train", "val", "test")


def prep(source: Path, out: Path, **kw) -> Path:
    from wood.prep.config import PrepConfig
    from wood.prep.pipeline import run_prep

    run_prep(PrepConfig(source=source, out=out, workers=1, **kw))
    return out


def instances_by_image(prepared: Path) -> dict[str, list[tuple[str, bytes]]]:
    """sha256 of every image -> its instances as sorted (class name, packed mask) pairs, all splits."""
    manifest = json.loads((prepared / "manifest.json").read_text())
    sha = {im["name"]: im["sha256"] for im in manifest["images"]}
    out: dict[str, list] = {}
    for split in SPLITS:
        coco = json.loads((prepared / "coco" / f"{split}.json").read_text())
        names = {c["id"]: c["name"] for c in coco["categories"]}
        for im in coco["images"]:
            anns = [a for a in coco["annotations"] if a["image_id"] == im["id"]]
            masks = [segmentation_to_mask(a["segmentation"], im["height"], im["width"]) for a in anns]
            out[sha[im["file_name"]]] = sorted(
                (names[a["category_id"]], np.packbits(m).tobytes()) for a, m in zip(anns, masks, strict=True)
            )
    return out


def round_trip(source: Path, tmp_path: Path, category: str, capsys, **prep_kw) -> tuple[Path, Path]:
    first = prep(source, tmp_path / "p1", category=category, **prep_kw)
    labels = [first / "coco" / f"{s}.json" for s in SPLITS]
    code, err = run_cli(["import", *labels, "--out", tmp_path / "mvtec", "--category", category], capsys)
    assert code == 0, err
    second = prep(tmp_path / "mvtec" / category, tmp_path / "p2", category=category, **prep_kw)
    return first, second


def assert_same(first: Path, second: Path) -> None:
    a, b = instances_by_image(first), instances_by_image(second)
    assert a.keys() == b.keys() and a == b  # same images (sha256), classes and instance masks, bit for bit
    stats = [json.loads((p / "stats.json").read_text())["classes"] for p in (first, second)]
    assert stats[0] == stats[1]


def _ring_into(source: Path) -> None:
    """Give the first hole mask a hole (a ring), so COCO must use RLE for it."""
    mask_path = sorted((source / "ground_truth" / "hole").iterdir())[0]
    mask = cv2.imread(str(mask_path), cv2.IMREAD_GRAYSCALE)
    mask[:] = 0
    cv2.circle(mask, (64, 64), 30, 255, -1)
    cv2.circle(mask, (64, 64), 12, 0, -1)
    cv2.imwrite(str(mask_path), mask)


def test_prep_import_prep_round_trip_is_exact_on_synthetic_data(synth_root: Path, tmp_path: Path, capsys):
    source = tmp_path / "src" / "wood"
    shutil.copytree(synth_root, source)
    _ring_into(source)
    first, second = round_trip(source, tmp_path, "wood", capsys)
    has_rle = any(
        isinstance(a["segmentation"], dict)
        for s in SPLITS
        for a in json.loads((first / "coco" / f"{s}.json").read_text())["annotations"]
    )
    assert has_rle  # a component with a hole went through RLE
    assert_same(first, second)
    written = json.loads((tmp_path / "mvtec" / "wood" / "import.json").read_text())
    assert written["counts"]["good"] == 3 and (tmp_path / "mvtec" / "wood" / "test" / "good" / "000.png").is_file()
    mask = cv2.imread(str(tmp_path / "mvtec" / "wood" / "ground_truth" / "hole" / "000_mask.png"), cv2.IMREAD_UNCHANGED)
    assert mask.ndim == 2 and set(np.unique(mask)) <= {0, 255}


@pytest.mark.skipif(not WOOD_DERIVED_512.is_dir(), reason="shared/data/wood_derived_512 not present")
def test_round_trip_is_exact_on_real_warped_wood(tmp_path: Path, capsys):
    first, second = round_trip(WOOD_DERIVED_512.resolve(), tmp_path, "wood", capsys)
    assert_same(first, second)
    assert len(instances_by_image(first)) == 36


def test_cvat_zip_with_crowd_rle_and_yolo_seg_folder_import(prepared: Path, tmp_path: Path, capsys):
    coco = json.loads((prepared / "coco" / "test.json").read_text())
    for ann in coco["annotations"]:  # CVAT's convention: every mask an RLE with iscrowd=1
        from wood.prep.formats.coco_masks import encode_rle

        im = next(i for i in coco["images"] if i["id"] == ann["image_id"])
        mask = segmentation_to_mask(ann["segmentation"], im["height"], im["width"])
        ann["segmentation"], ann["iscrowd"] = encode_rle(mask), 1
    zip_path = tmp_path / "task.zip"
    with zipfile.ZipFile(zip_path, "w") as zf:
        zf.writestr("annotations/instances_default.json", json.dumps(coco))
        for im in coco["images"]:
            zf.write(prepared / "yolo" / "images" / "test" / im["file_name"], f"images/{im['file_name']}")
    code, err = run_cli(["import", zip_path, "--out", tmp_path / "cvat", "--category", "wood"], capsys)
    assert code == 0, err
    rows = json.loads((tmp_path / "cvat" / "wood" / "import.json").read_text())["images"]
    assert len(rows) == len(coco["images"])
    by_name = {r["file_name"]: r for r in rows}
    for im in coco["images"]:
        anns = [a for a in coco["annotations"] if a["image_id"] == im["id"]]
        row = by_name[im["file_name"]]
        assert row["defect"] == (im["defect"] if anns else "good")
        if anns:
            want = np.any([segmentation_to_mask(a["segmentation"], im["height"], im["width"]) for a in anns], axis=0)
            got = cv2.imread(str(tmp_path / "cvat" / "wood" / row["mask"]), cv2.IMREAD_GRAYSCALE) > 127
            assert np.array_equal(got, want)

    code, err = run_cli(["import", prepared / "yolo-seg", "--out", tmp_path / "yseg", "--category", "wood"], capsys)
    assert code == 0, err
    rows = json.loads((tmp_path / "yseg" / "wood" / "import.json").read_text())["images"]
    assert len(rows) == sum(len(json.loads((prepared / "coco" / f"{s}.json").read_text())["images"]) for s in SPLITS)
    checked = 0
    for split in SPLITS:
        gt = json.loads((prepared / "coco" / f"{split}.json").read_text())
        for im in gt["images"]:
            anns = [a for a in gt["annotations"] if a["image_id"] == im["id"]]
            if not anns or any(isinstance(a["segmentation"], dict) for a in anns):
                continue  # YOLO-seg fills holes: compare hole-free images
            want = np.any([segmentation_to_mask(a["segmentation"], im["height"], im["width"]) for a in anns], axis=0)
            row = next(r for r in rows if Path(r["file_name"]).name == im["file_name"])
            got = cv2.imread(str(tmp_path / "yseg" / "wood" / row["mask"]), cv2.IMREAD_GRAYSCALE) > 127
            assert np.array_equal(got, want)
            checked += 1
    assert checked > 10


def _coco(tmp_path: Path, annotations: list[dict], names=("hole",), image_names=("a.png",)) -> Path:
    folder = tmp_path / "imgs"
    folder.mkdir(exist_ok=True)
    for n in image_names:
        cv2.imwrite(str(folder / n), np.full((16, 20, 3), 90, np.uint8))
    coco = {
        "images": [{"id": 1, "file_name": "a.png", "width": 20, "height": 16}],
        "annotations": [{"id": k + 1, "image_id": 1, "iscrowd": 0, **a} for k, a in enumerate(annotations)],
        "categories": [{"id": k + 1, "name": n} for k, n in enumerate(names)],
    }
    path = tmp_path / "labels.json"
    path.write_text(json.dumps(coco))
    return path


SQUARE = [2, 2, 10, 2, 10, 10, 2, 10]


@pytest.mark.parametrize(
    "annotations,image_names,extra,needle",
    [
        ([{"category_id": 1, "segmentation": [SQUARE]}], (), [], "are not there"),
        ([{"category_id": 7, "segmentation": [SQUARE]}], ("a.png",), [], "not in 'categories'"),
        ([{"category_id": 1, "segmentation": {"size": [16, 20], "counts": [5, 3]}}], ("a.png",), [], "malformed RLE"),
        ([{"category_id": 1, "segmentation": {"size": [16, 20], "counts": "#!x"}}], ("a.png",), [], "malformed"),
        ([{"category_id": 1, "segmentation": {"size": [8, 8], "counts": [64]}}], ("a.png",), [], "RLE size"),
        ([{"category_id": 1, "segmentation": [[1, 1, 5, 5]]}], ("a.png",), [], ">= 3 points"),
        ([{"category_id": 1, "bbox": [1, 1, 4, 4]}], ("a.png",), [], "--box-masks"),
        (
            [{"category_id": 1, "segmentation": [SQUARE]}, {"category_id": 2, "segmentation": [SQUARE]}],
            ("a.png",),
            [],
            "--mixed",
        ),
    ],
)
def test_bad_labels_are_one_line_and_write_nothing(tmp_path: Path, capsys, annotations, image_names, extra, needle):
    names = ("hole", "scratch")
    labels = _coco(tmp_path, annotations, names=names, image_names=image_names)
    argv = ["import", labels, "--images", tmp_path / "imgs", "--out", tmp_path / "out", "--category", "wood", *extra]
    code, err = run_cli(argv, capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1 and needle in err, err
    assert not (tmp_path / "out").exists()


def test_unknown_class_out_with_user_files_and_box_masks(tmp_path: Path, capsys):
    labels = _coco(tmp_path, [{"category_id": 1, "segmentation": [SQUARE]}], names=("knot",))
    base = ["import", labels, "--images", tmp_path / "imgs", "--category", "wood"]
    code, err = run_cli([*base, "--out", tmp_path / "o"], capsys)
    assert code == 2 and "unknown categories" in err and "'knot'" in err
    user = tmp_path / "user" / "wood"
    user.mkdir(parents=True)
    (user / "mine.txt").write_text("x")
    labels = _coco(tmp_path, [{"category_id": 1, "bbox": [2, 3, 5, 4]}])
    code, err = run_cli([*base, "--out", tmp_path / "user"], capsys)
    assert code == 2 and "--box-masks" in err
    code, err = run_cli([*base, "--out", tmp_path / "user", "--box-masks"], capsys)
    assert code == 2 and "not a wood import output" in err and sorted(p.name for p in user.iterdir()) == ["mine.txt"]
    code, err = run_cli([*base, "--out", tmp_path / "ok", "--box-masks"], capsys)
    assert code == 0, err
    mask = cv2.imread(str(tmp_path / "ok" / "wood" / "ground_truth" / "hole" / "000_mask.png"), cv2.IMREAD_GRAYSCALE)
    want = np.zeros((16, 20), np.uint8)
    want[3:7, 2:7] = 255
    assert np.array_equal(mask, want)
