"""`wood prep` end to end on synthetic and real (warped, anti-aliased) data."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from _mvtec_fixtures import WOOD_DERIVED_512, prep_wood_derived
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from wood.imageio import read_mask
from wood.prep.config import PrepConfig
from wood.prep.formats.coco_masks import segmentation_to_mask
from wood.prep.pipeline import run_prep

SPLITS = ("train", "val", "test")


def _quiet(fn, *args):
    with contextlib.redirect_stdout(io.StringIO()):
        return fn(*args)


def _tree_bytes(root: Path) -> dict[str, bytes]:
    # the marker also records each file's inode and mtime: not part of the output's content
    files = (p for p in sorted(root.rglob("*")) if p.is_file() and p.name != ".wood-output.json")
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in files}


def test_contract_files_exist(prepared: Path):
    for rel in ["manifest.json", "stats.json", "yolo/data.yaml", "yolo-seg/data.yaml"]:
        assert (prepared / rel).is_file(), rel
    for split in SPLITS:
        assert (prepared / "coco" / f"{split}.json").is_file()
        for fmt in ("yolo", "yolo-seg"):
            images = sorted(p.stem for p in (prepared / fmt / "images" / split).iterdir())
            labels = sorted(p.stem for p in (prepared / fmt / "labels" / split).iterdir())
            assert images and images == labels
        assert (prepared / "classify" / split / "good").is_dir()
    data = yaml.safe_load((prepared / "yolo" / "data.yaml").read_text())
    assert "path" not in data and data["train"] == "images/train"  # relative to data.yaml's folder
    assert data["names"] == {0: "color", 1: "combined", 2: "hole", 3: "liquid", 4: "scratch"}


def test_manifest_split_is_leakage_free(prepared: Path):
    manifest = json.loads((prepared / "manifest.json").read_text())
    by_hash: dict[str, set[str]] = {}
    for img in manifest["images"]:
        by_hash.setdefault(img["sha256"], set()).add(img["split"])
        assert (prepared / "yolo" / "images" / img["split"] / img["name"]).is_file()
    assert all(len(s) == 1 for s in by_hash.values())
    assert [i["id"] for i in manifest["images"]] == list(range(1, len(manifest["images"]) + 1))
    assert {i["split"] for i in manifest["images"]} == set(SPLITS)


def _self_eval(coco_json: Path, iou_type: str) -> float:
    gt = _quiet(COCO, str(coco_json))
    results = []
    for ann in gt.dataset["annotations"]:
        rle = mask_utils.encode(np.asfortranarray(gt.annToMask(ann)))
        rle["counts"] = rle["counts"].decode("ascii")
        results.append(
            {
                "image_id": ann["image_id"],
                "category_id": ann["category_id"],
                "bbox": ann["bbox"],
                "segmentation": rle,
                "score": 1.0,
            }
        )
    dt = _quiet(gt.loadRes, results)
    ev = COCOeval(gt, dt, iou_type)
    _quiet(ev.evaluate), _quiet(ev.accumulate), _quiet(ev.summarize)
    return float(ev.stats[0])


@pytest.mark.parametrize("iou_type", ["bbox", "segm"])
def test_cocoeval_of_ground_truth_against_itself_is_1(prepared: Path, iou_type: str):
    for split in SPLITS:
        assert _self_eval(prepared / "coco" / f"{split}.json", iou_type) == pytest.approx(1.0)


def check_round_trip(prepared: Path, source: Path) -> int:
    """Every image: COCO segmentation -> raster == binarised mask; YOLO box == component box.
    Returns the number of instances checked."""
    manifest = json.loads((prepared / "manifest.json").read_text())
    min_area = manifest["options"]["min_area"]
    cocos = {s: json.loads((prepared / "coco" / f"{s}.json").read_text()) for s in SPLITS}
    checked = 0
    for img in manifest["images"]:
        if img["mask"] is None:
            continue
        anns = [a for a in cocos[img["split"]]["annotations"] if a["image_id"] == img["id"]]
        h, w = img["height"], img["width"]
        union = np.zeros((h, w), bool)
        for ann in anns:
            seg = ann["segmentation"]
            if isinstance(seg, list):
                assert all(len(ring) >= 6 for ring in seg)
            raster = segmentation_to_mask(seg, h, w)
            assert int(raster.sum()) == ann["area"]
            union |= raster
        mask = read_mask(source / img["mask"])
        if "small_components_dropped" not in img["flags"]:
            iou = (union & mask).sum() / max((union | mask).sum(), 1)
            assert iou >= 0.999, img["name"]
        else:
            assert (union & ~mask).sum() == 0 and (mask & ~union).sum() < min_area * 50
        labels = (
            (prepared / "yolo" / "labels" / img["split"] / f"{Path(img['name']).stem}.txt").read_text().splitlines()
        )
        for line, ann in zip(labels, anns, strict=True):
            _, xc, yc, bw, bh = (float(v) for v in line.split())
            x0, y0, bw_px, bh_px = ann["bbox"]
            got = np.array([(xc - bw / 2) * w, (yc - bh / 2) * h, (xc + bw / 2) * w, (yc + bh / 2) * h])
            assert np.abs(got - [x0, y0, x0 + bw_px, y0 + bh_px]).max() <= 1.0
            checked += 1
    return checked


def test_round_trip_is_exact_on_synthetic_data(prepared: Path, synth_root: Path):
    assert check_round_trip(prepared, synth_root) > 20


def test_synthetic_data_has_tiny_defects_and_holes(prepared: Path):
    stats = json.loads((prepared / "stats.json").read_text())
    assert sum(s["tiny_lt_50px"] for s in stats["instance_area_px"].values()) > 0
    manifest = json.loads((prepared / "manifest.json").read_text())
    assert any(i["has_hole"] for img in manifest["images"] for i in img["instances"])


@pytest.mark.skipif(not WOOD_DERIVED_512.is_dir(), reason="shared/data/wood_derived_512 not present")
def test_real_warped_masks_round_trip_and_groups_do_not_leak(tmp_path: Path):
    out = tmp_path / "wd512"
    prep_wood_derived(out, preview=2, workers=2)
    assert check_round_trip(out, WOOD_DERIVED_512) > 50
    manifest = json.loads((out / "manifest.json").read_text())
    assert sum("non_binary_mask" in i["flags"] for i in manifest["images"]) > 30
    assert len(list((out / "preview").glob("*.png"))) == 2
    # augmented copies of one original (e.g. ..._combined_4.png twice) share a split
    sources = dict(line.split(",") for line in (WOOD_DERIVED_512 / "sources.csv").read_text().splitlines()[1:])
    split_of = {i["source"]: i["split"] for i in manifest["images"]}
    originals: dict[str, list[str]] = {}
    for file, name in sources.items():
        key = "_".join(name.rsplit(".", 1)[0].split("_")[-2:])
        originals.setdefault(key, []).append(split_of[f"test/{file}"])
    assert max(len(v) for v in originals.values()) >= 2  # the data really has copies
    assert all(len(set(v)) == 1 for v in originals.values())


def test_rerun_is_byte_identical_and_seed_changes_the_split(synth_root: Path, tmp_path: Path):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    run_prep(PrepConfig(source=synth_root, out=a, workers=1))
    run_prep(PrepConfig(source=synth_root, out=b, workers=2))
    ta, tb = _tree_bytes(a), _tree_bytes(b)
    assert ta == tb  # data.yaml included: it holds no output path
    before = _tree_bytes(a)
    run_prep(PrepConfig(source=synth_root, out=a, workers=1))
    assert _tree_bytes(a) == before
    run_prep(PrepConfig(source=synth_root, out=c, seed=1, workers=1))

    def split(p):
        return {i["name"]: i["split"] for i in json.loads((p / "manifest.json").read_text())["images"]}

    assert split(c) != split(a)


def test_options_single_class_train_good_and_exclude_combined(synth_root: Path, tmp_path: Path):
    out = tmp_path / "p"
    run_prep(PrepConfig(source=synth_root, out=out, single_class=True, train_good=True, combined="exclude", workers=1))
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["classes"] == ["defect"]
    assert not any(i["defect"] == "combined" for i in manifest["images"])
    background = [i for i in manifest["images"] if i["origin"] == "train-good"]
    assert len(background) == 3 and all(i["split"] == "train" for i in background)
    for img in background:
        assert (out / "yolo" / "labels" / "train" / f"{Path(img['name']).stem}.txt").read_text() == ""
    lines = [line for p in (out / "yolo" / "labels").rglob("*.txt") for line in p.read_text().splitlines()]
    assert {line.split()[0] for line in lines} == {"0"}


def test_grayscale_category_with_other_defect_names(tmp_path: Path):
    """Categories like grid or screw: single-channel images, their own defect type names."""
    from _mvtec_fixtures import make_category

    from wood.prep.synth.write import write_synth

    gray = write_synth(tmp_path / "gray" / "grid", size=96, per_defect=3, good=2, train_good=0, seed=3, gray=True)
    out = tmp_path / "gray_out"
    run_prep(PrepConfig(source=gray, out=out, workers=1))
    assert check_round_trip(out, gray) > 5
    assert {i["channels"] for i in json.loads((out / "manifest.json").read_text())["images"]} == {1}
    screw = make_category(tmp_path / "screw", defects=("manipulated_front", "scratch_head", "thread_side"))
    run_prep(PrepConfig(source=screw, out=tmp_path / "screw_out", workers=1))
    manifest = json.loads((tmp_path / "screw_out" / "manifest.json").read_text())
    assert manifest["classes"] == ["manipulated_front", "scratch_head", "thread_side"]
    assert manifest["category"] == "screw"
