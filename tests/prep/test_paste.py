"""`wood paste`: exact labels, no leakage, covering, determinism, bad inputs, real warped data, training."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml
from _mvtec_fixtures import WOOD_DERIVED_512, make_category, prep_wood_derived, write_png
from pycocotools.coco import COCO

from wood.cli import main
from wood.imageio import read_image_rgb
from wood.prep.config import PrepConfig
from wood.prep.formats.coco_masks import segmentation_to_mask
from wood.prep.formats.convert import yolo_seg_line
from wood.prep.instances import find_instances
from wood.prep.paste.bank import Cutout
from wood.prep.paste.compose import Transform, feather_alpha, keep_components, paste, transform_cutout
from wood.prep.paste.config import PasteConfig
from wood.prep.paste.image import PasteJob, pick_instance
from wood.prep.paste.pipeline import run_paste
from wood.prep.pipeline import run_prep
from wood.prep.synth.write import write_synth

SPLITS = ("train", "val", "test")


def _json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _tree(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != "data.yaml" and not p.name.startswith(".wood")
    }


def _paste(prep: Path, out: Path, **kw) -> dict:
    return run_paste(PasteConfig(prep=prep, out=out, **{"workers": 1, **kw}))


@pytest.fixture(scope="module")
def src(tmp_path_factory) -> Path:
    """A prep of a tiny synthetic category with train/good backgrounds."""
    tmp = tmp_path_factory.mktemp("paste-src")
    root = write_synth(tmp / "synth" / "wood", size=96, per_defect=4, good=3, train_good=6, seed=0)
    run_prep(PrepConfig(source=root, out=tmp / "prep", train_good=True, workers=1))
    return tmp / "prep"


@pytest.fixture(scope="module")
def defect_src(tmp_path_factory) -> Path:
    """A prep with no good image at all: backgrounds are train defect images."""
    tmp = tmp_path_factory.mktemp("paste-defect-src")
    root = write_synth(tmp / "synth" / "wood", size=96, per_defect=4, good=0, train_good=0, seed=1)
    run_prep(PrepConfig(source=root, out=tmp / "prep", workers=1))
    return tmp / "prep"


@pytest.fixture(scope="module")
def runs(src, defect_src, tmp_path_factory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("paste-out")
    options = {
        "alpha": dict(prep=src, images=20, per_image=3, match_colour=True),
        "poisson": dict(prep=src, images=8, per_image=2, blend="poisson", balance=True),
        "none": dict(prep=src, images=8, per_image=2, blend="none", min_area=9),
        "cover": dict(prep=src, images=10, per_image=8, max_overlap=1.0, scale="1.5,2.5"),
        "defect": dict(prep=defect_src, images=8, per_image=2, blend="none"),
    }
    for name, kw in options.items():
        _paste(kw.pop("prep"), tmp / name, **kw)
    return {name: tmp / name for name in options}


# ---------------------------------------------------------------- recomputing labels from the provenance
def expected_owner(out: Path, src: Path, record: dict) -> tuple[np.ndarray, list[int | None]]:
    """The owner map rebuilt from the manifest's provenance and the SOURCE prep alone: background instances,
    then each paste's source mask, transformed and placed, taking the pixels it covers."""
    source = _json(src / "manifest.json")
    by_name = {r["name"]: r for r in source["images"]}
    coco = COCO(str(src / "coco" / "train.json"))
    min_area = _json(out / "manifest.json")["paste"]["options"]["min_area"]
    owner = np.zeros((record["height"], record["width"]), np.int32)
    keys: list[int | None] = []
    bg = by_name[record["paste"]["background"]["name"]]
    for ann in coco.loadAnns(coco.getAnnIds(imgIds=[bg["id"]])):
        keys.append(None)
        owner[coco.annToMask(ann).astype(bool)] = len(keys)
    for p, info in enumerate(record["paste"]["instances"]):
        srec = by_name[info["source"]]
        assert srec["split"] == "train" and srec["sha256"] == info["sha256"]
        ann = coco.loadAnns(coco.getAnnIds(imgIds=[srec["id"]]))[info["instance"]]
        full = coco.annToMask(ann).astype(bool)
        x, y, w, h = cv2.boundingRect(full.view(np.uint8))
        crop = np.zeros((h, w, 3), np.uint8)
        _, mask = transform_cutout(
            crop, full[y : y + h, x : x + w], Transform(info["flip"], info["rot90"], info["scale"])
        )
        mask = keep_components(mask, min_area)
        assert [mask.shape[1], mask.shape[0]] == info["size_wh"] and int(mask.sum()) == info["pixels"]
        px, py = info["xy"]
        keys.append(p)
        owner[py : py + mask.shape[0], px : px + mask.shape[1]][mask] = len(keys)
    return owner, keys


def check_labels_exact(out: Path, src: Path) -> int:
    """Every new image: COCO masks == the rebuilt owner map's components, YOLO boxes tight, YOLO-seg lines
    those prep writes for the same mask, pixels outside pasted masks == the background's. Returns #checked."""
    manifest = _json(out / "manifest.json")
    coco = COCO(str(out / "coco" / "train.json"))
    new = [r for r in manifest["images"] if r["origin"] == "paste"]
    for record in new:
        owner, keys = expected_owner(out, src, record)
        anns = coco.loadAnns(coco.getAnnIds(imgIds=[record["id"]]))
        assert len(anns) == len(record["instances"])
        got = {}
        for ann, inst in zip(anns, record["instances"], strict=True):
            mask = coco.annToMask(ann).astype(bool)
            assert int(mask.sum()) == ann["area"] == inst["area"]
            x, y, w, h = cv2.boundingRect(mask.view(np.uint8))
            assert ann["bbox"] == [x, y, w, h] and inst["bbox_xyxy"] == [x, y, x + w, y + h]
            got.setdefault(inst["paste"], np.zeros_like(mask))
            assert not (got[inst["paste"]] & mask).any()
            got[inst["paste"]] |= mask
        for k, key in enumerate(keys, start=1):
            if key is None:  # the background's own instances: test_defect_backgrounds_keep_their_instances
                continue
            want = owner == k  # what is left of paste `key` after later pastes, minus components < min_area
            kept, _ = find_instances(want, manifest["paste"]["options"]["min_area"])
            union = np.zeros_like(want)
            for inst in kept:
                union |= segmentation_to_mask(inst.coco_segmentation(), *want.shape)
            assert np.array_equal(got.get(key, np.zeros_like(want)), union), (record["name"], key)  # IoU 1
        stem = Path(record["name"]).stem
        boxes = (out / "yolo" / "labels" / "train" / f"{stem}.txt").read_text().splitlines()
        polys = (out / "yolo-seg" / "labels" / "train" / f"{stem}.txt").read_text().splitlines()
        W, H = record["width"], record["height"]
        for ann, inst, box, poly in zip(anns, record["instances"], boxes, polys, strict=True):
            c, xc, yc, bw, bh = (float(v) for v in box.split())
            x0, y0, x1, y1 = inst["bbox_xyxy"]
            assert int(c) == inst["class_id"]
            assert np.allclose(
                [(xc - bw / 2) * W, (yc - bh / 2) * H, (xc + bw / 2) * W, (yc + bh / 2) * H],
                [x0, y0, x1, y1],
                atol=1e-3,
            )
            ring, _ = find_instances(coco.annToMask(ann).astype(bool))
            assert poly == yolo_seg_line(inst["class_id"], ring[0].centre, W, H)  # prep's convention, exactly
        image = read_image_rgb(out / "yolo" / "images" / "train" / record["name"])
        bg = read_image_rgb(src / "yolo" / "images" / "train" / record["paste"]["background"]["name"])
        placed = np.isin(owner, [k for k, key in enumerate(keys, start=1) if key is not None])
        assert np.array_equal(image[~placed], bg[~placed])
        assert (
            hashlib.sha256((out / "yolo" / "images" / "train" / record["name"]).read_bytes()).hexdigest()
            == record["sha256"]
        )
    return len(new)


@pytest.mark.parametrize("name", ["alpha", "poisson", "none", "cover", "defect"])
def test_labels_are_exactly_the_pasted_masks(runs, src, defect_src, name):
    assert check_labels_exact(runs[name], defect_src if name == "defect" else src) >= 8


def test_yolo_seg_reads_back_with_ultralytics_polygon2mask(runs):
    from wood.offline import setup_ultralytics

    setup_ultralytics()  # imports Ultralytics with no DNS lookup
    from ultralytics.data.utils import polygon2mask

    out = runs["alpha"]
    coco = COCO(str(out / "coco" / "train.json"))
    ious = []
    for record in (r for r in _json(out / "manifest.json")["images"] if r["origin"] == "paste"):
        W, H = record["width"], record["height"]
        lines = (out / "yolo-seg" / "labels" / "train" / f"{Path(record['name']).stem}.txt").read_text().splitlines()
        anns = coco.loadAnns(coco.getAnnIds(imgIds=[record["id"]]))
        for ann, inst, line in zip(anns, record["instances"], lines, strict=True):
            if inst["has_hole"]:
                continue
            xy = np.array([float(v) for v in line.split()[1:]]) * np.tile([W, H], len(line.split()[1:]) // 2)
            got, want = polygon2mask((H, W), [xy]).astype(bool), coco.annToMask(ann).astype(bool)
            ious.append((got & want).sum() / (got | want).sum())
    assert np.mean(ious) >= 0.99


def test_no_val_or_test_pixels_reach_train(runs, src):
    source = _json(src / "manifest.json")
    held_out = {r["sha256"] for r in source["images"] if r["split"] != "train"}
    train = {r["name"]: r["sha256"] for r in source["images"] if r["split"] == "train"}
    for name, out in runs.items():
        if name == "defect":
            continue
        manifest = _json(out / "manifest.json")
        for record in (r for r in manifest["images"] if r["origin"] == "paste"):
            used = [record["paste"]["background"]] + [
                {"name": p["source"], "sha256": p["sha256"]} for p in record["paste"]["instances"]
            ]
            for u in used:
                assert u["sha256"] not in held_out and train[u["name"]] == u["sha256"]
        old, new = _tree(src), _tree(out)
        for path, data in old.items():  # val/test (and the original train files) byte-identical
            changed = ("manifest.json", "stats.json", "coco/train.json", "coco/annotations/instances_train.json")
            if path not in changed and not path.startswith("preview/"):
                assert new[path] == data, path
        assert manifest["images"][: len(source["images"])] == source["images"]
        assert not any(p.startswith(("yolo/images/val", "yolo/images/test")) and "paste" in p for p in new)


def test_covered_pixels_leave_the_covered_instance(runs):
    manifest = _json(runs["cover"] / "manifest.json")
    covered = 0
    for record in (r for r in manifest["images"] if r["origin"] == "paste"):
        area = Counter()
        for inst in record["instances"]:
            area[inst["paste"]] += inst["area"]
        covered += sum(p["pixels"] > area[k] for k, p in enumerate(record["paste"]["instances"]))
    assert covered >= 3  # exactness of what remains: test_labels_are_exactly_the_pasted_masks[cover]


def test_defect_backgrounds_keep_their_instances(runs, defect_src):
    out = runs["defect"]
    source = {r["name"]: r for r in _json(defect_src / "manifest.json")["images"]}
    manifest = _json(out / "manifest.json")
    assert manifest["paste"]["backgrounds"] == "defect"
    for record in (r for r in manifest["images"] if r["origin"] == "paste"):
        bg = source[record["paste"]["background"]["name"]]
        assert bg["split"] == "train" and bg["defect"] != "good"
        own = [{k: i[k] for k in ("class", "bbox_xyxy", "area")} for i in record["instances"] if i["paste"] is None]
        assert sorted(own, key=str) == sorted(
            ({k: i[k] for k in ("class", "bbox_xyxy", "area")} for i in bg["instances"]), key=str
        )


def test_same_seed_same_bytes_other_seed_differs(src, tmp_path):
    a, b, c = (tmp_path / n for n in "abc")
    _paste(src, a, images=16, per_image=2)
    _paste(src, b, images=16, per_image=2, workers=2)  # worker processes give the same bytes
    _paste(src, c, images=16, per_image=2, seed=1)
    assert _tree(a) == _tree(b)
    ta, tc = _tree(a), _tree(c)
    assert ta["yolo/images/train/paste-00000.png"] != tc["yolo/images/train/paste-00000.png"]
    assert {k: v for k, v in ta.items() if "paste-" not in k and "json" not in k} == {
        k: v for k, v in tc.items() if "paste-" not in k and "json" not in k
    }


def test_balance_picks_classes_uniformly():
    def cut(c: int) -> Cutout:
        return Cutout("x.png", "0", 0, c, str(c), "d", np.zeros((1, 1, 3), np.uint8), np.ones((1, 1), bool))

    bank = [cut(0)] * 9 + [cut(1)]
    share = {}
    for balance in (False, True):
        job = PasteJob(None, bank, [], PasteConfig(balance=balance), 1, "paste-", 1)
        rng = np.random.default_rng(0)
        share[balance] = np.mean([pick_instance(rng, job).class_id for _ in range(4000)])
    assert abs(share[True] - 0.5) < 0.03 and abs(share[False] - 0.1) < 0.02


@pytest.mark.parametrize("blend", ["none", "alpha", "poisson"])
def test_blends_change_only_pixels_inside_the_mask(blend):
    rng = np.random.default_rng(0)
    canvas = rng.integers(0, 255, (40, 40, 3), dtype=np.uint8)
    before = canvas.copy()
    mask = np.zeros((12, 10), bool)
    mask[2:10, 1:9] = True
    paste(canvas, np.full((12, 10, 3), 250, np.uint8), mask, (30, 0), blend, feather=2)  # at the image border
    placed = np.zeros((40, 40), bool)
    placed[0:12, 30:40] = mask
    assert np.array_equal(canvas[~placed], before[~placed]) and not np.array_equal(canvas, before)
    alpha = feather_alpha(mask, 2)
    assert (alpha[~mask] == 0).all() and alpha[mask].min() > 0 and alpha[5, 5] == 1


def test_flip_and_rot90_are_exact():
    image = np.arange(6 * 4 * 3, dtype=np.uint8).reshape(6, 4, 3)
    mask = np.zeros((6, 4), bool)
    mask[0, :] = mask[:, 0] = True
    img, m = transform_cutout(image, mask, Transform(flip=True, rot90=1, scale=1.0))
    assert np.array_equal(m, np.rot90(mask[:, ::-1])) and np.array_equal(img, np.rot90(image[:, ::-1]))


# ---------------------------------------------------------------- bad inputs: one line, exit 2, nothing written
def run_cli(args: list, capsys) -> tuple[int, str, str]:
    """Run `wood ARGS` through the real entry point: (exit code, stderr, stdout)."""
    with pytest.raises(SystemExit) as exc:
        main([str(a) for a in args])
        raise SystemExit(0)
    captured = capsys.readouterr()
    return exc.value.code or 0, captured.err, captured.out


def expect_error(args: list, out: Path, capsys, *needles: str) -> None:
    existed = out.exists()
    code, err, _ = run_cli(["paste", *args, "--out", out], capsys)
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: "), err
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    assert out.exists() == existed  # nothing written (an existing `out` is the prep's parent)
    assert not list(out.parent.glob(".wood-tmp-*")) and not list(out.parent.glob(".wood-lock-*"))


def _fake_prep(folder: Path, manifest: dict) -> Path:
    folder.mkdir(parents=True)
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder


@pytest.mark.parametrize(
    "args,needles",
    [
        (["--images", "0"], ["--images", ">= 1"]),
        (["--images", "-3"], ["--images"]),
        (["--per-image", "0"], ["--per-image"]),
        (["--scale", "2,1"], ["--scale"]),
        (["--scale", "abc"], ["--scale"]),
        (["--scale", "0,1"], ["--scale"]),
        (["--max-overlap", "1.5"], ["--max-overlap"]),
        (["--max-overlap", "nan"], ["--max-overlap"]),
        (["--blend", "soft"], ["--blend", "poisson"]),
        (["--backgrounds", "best"], ["--backgrounds"]),
    ],
)
def test_bad_options(src, tmp_path, capsys, args, needles):
    expect_error([src, *args], tmp_path / "out", capsys, *needles)


def test_bad_inputs(src, defect_src, tmp_path, capsys):
    out = tmp_path / "out"
    expect_error([tmp_path / "missing"], out, capsys, "does not exist")
    expect_error([_fake_prep(tmp_path / "empty", {})], out, capsys, "older/other format")
    (tmp_path / "empty" / "manifest.json").unlink()
    expect_error([tmp_path / "empty"], out, capsys, "no manifest.json")
    expect_error(
        [_fake_prep(tmp_path / "old", {"format": "wood-prep/0", "images": []})], out, capsys, "older/other format"
    )
    manifest = _json(src / "manifest.json")
    manifest["images"] = [{**r, "instances": []} for r in manifest["images"]]
    fake = _fake_prep(tmp_path / "noinst", manifest)
    (fake / "coco").mkdir()
    (fake / "coco" / "train.json").write_text(json.dumps({"annotations": []}))
    expect_error([fake], out, capsys, "no instances in its train split")
    expect_error([defect_src, "--backgrounds", "good"], out, capsys, "--train-good")
    expect_error([src], src / "inside", capsys, "inside the input")
    expect_error([src], src.parent, capsys, "holds the input")
    (tmp_path / "bad.yaml").write_text("images: 3\ncolour: 1\n")
    expect_error([src, "--config", tmp_path / "bad.yaml"], out, capsys, "unknown key", "colour")
    (tmp_path / "bad2.yaml").write_text("per_image: many\n")
    expect_error([src, "--config", tmp_path / "bad2.yaml"], out, capsys, "per_image")


def _big_instance_category(root: Path, big_only: bool) -> Path:
    """64 px defect images (hole: 50x50 masks) and 16 px train/good images as the only backgrounds."""
    make_category(root, defects=("hole",) if big_only else ("hole", "scratch"), per_defect=3, good=0, size=64)
    for i in range(3):
        write_png(root / "ground_truth" / "hole" / f"{i:03d}_mask.png", np.pad(np.full((50, 50), 255, np.uint8), 7))
        write_png(root / "train" / "good" / f"{i:03d}.png", np.full((16, 16, 3), 90 + i, np.uint8))
    return root


def test_instances_larger_than_every_background(tmp_path, capsys):
    for big_only in (True, False):
        root = _big_instance_category(tmp_path / f"src{big_only}" / "wood", big_only)
        prep = tmp_path / f"prep{big_only}"
        run_prep(PrepConfig(source=root, out=prep, train_good=True, workers=1, test_fraction=0.34, val_fraction=0.0))
        if big_only:
            expect_error([prep, "--images", "3"], tmp_path / "out", capsys, "larger than every background")
        else:
            stats = _paste(prep, tmp_path / "ok", images=3, per_image=1)["paste"]
            assert stats["instances_too_large"] == 2 and stats["pasted_per_class"] == {"hole": 0, "scratch": 3}


def test_cli_config_file_and_options(src, tmp_path, capsys):
    (tmp_path / "p.yaml").write_text(
        yaml.safe_dump({"images": 3, "per_image": 2, "blend": "none", "scale": [1.0, 1.0]})
    )
    code, err, _ = run_cli(
        [
            "paste",
            src,
            "--out",
            tmp_path / "o",
            "--config",
            tmp_path / "p.yaml",
            "--per-image",
            "1",
            "--preview",
            "2",
            "--workers",
            "1",
        ],
        capsys,
    )
    assert code == 0, err
    options = _json(tmp_path / "o" / "manifest.json")["paste"]["options"]
    assert (options["images"], options["per_image"], options["blend"], options["scale"]) == (3, 1, "none", [1.0, 1.0])
    assert options["min_area"] == _json(src / "manifest.json")["options"]["min_area"]
    assert len(list((tmp_path / "o" / "preview").glob("*.png"))) == 2
    code, _, text = run_cli(["paste", "--help"], capsys)
    text = " ".join(text.replace("│", " ").split())  # rich boxes and wraps the help
    assert code == 0 and "[default: 0.75,1.33]" in text and "each class equally likely" in text


@pytest.mark.skipif(not WOOD_DERIVED_512.is_dir(), reason="shared/data/wood_derived_512 not present")
def test_real_warped_wood_pastes_onto_train_defect_images(tmp_path):
    prep, out = tmp_path / "prep", tmp_path / "out"
    prep_wood_derived(prep, workers=1)
    stats = _paste(prep, out, images=6, per_image=2, match_colour=True)
    assert stats["paste"]["backgrounds"] == "defect" and sum(stats["paste"]["pasted_per_class"].values()) >= 6
    assert check_labels_exact(out, prep) == 6
    held_out = {r["sha256"] for r in _json(prep / "manifest.json")["images"] if r["split"] != "train"}
    for record in (r for r in _json(out / "manifest.json")["images"] if r["origin"] == "paste"):
        assert record["paste"]["background"]["sha256"] not in held_out
        assert not {p["sha256"] for p in record["paste"]["instances"]} & held_out


@pytest.mark.slow
def test_pasted_folder_trains_with_finetune_yolo(runs, tmp_path, capsys):
    code, err, _ = run_cli(
        [
            "finetune",
            "yolo",
            "--data",
            runs["alpha"],
            "--model",
            "yolov8n.yaml",
            "--epochs",
            "1",
            "--imgsz",
            "64",
            "--batch",
            "4",
            "--workers",
            "0",
            "--device",
            "cpu",
            "--out",
            tmp_path / "runs",
        ],
        capsys,
    )
    assert code == 0, err[-2000:]
    assert list((tmp_path / "runs").rglob("best.pt"))
