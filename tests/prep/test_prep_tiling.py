"""`wood prep --tile`: the tile grid, clipped instances (hand-built masks, exact values), the written
tree (every format reads back at the tile's pixels, test untiled, manifest offsets, background cap),
bad inputs, and the stages that need full images refusing a tiled prep."""

from __future__ import annotations

import hashlib
import itertools
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from _mvtec_fixtures import make_category, write_png
from test_prep_inputs import expect_error
from test_prep_yolo_seg import read_back

from wood.errors import DataError
from wood.prep.config import TileSpec
from wood.prep.formats.coco_masks import segmentation_to_mask
from wood.prep.tiling.full_images import require_full_images
from wood.prep.tiling.grid import axis_offsets, clip_to_tiles, select_tiles, tile_grid

TILE = 64


# ---------------------------------------------------------------- the grid
def test_axis_offsets_overlap_and_last_tile_shifted_to_the_border():
    assert axis_offsets(1024, 256, 0.2) == [0, 204, 408, 612, 768]
    assert axis_offsets(512, 256, 0.0) == [0, 256]
    assert axis_offsets(600, 256, 0.0) == [0, 256, 344]  # the last one ends at 600
    assert axis_offsets(256, 256, 0.5) == [0]


@pytest.mark.parametrize("length", [64, 100, 257, 1000, 1024])
@pytest.mark.parametrize("overlap", [0.0, 0.2, 0.5, 0.85])
def test_grid_covers_every_pixel_with_at_least_the_overlap(length, overlap):
    size = 64
    offsets = axis_offsets(length, size, overlap)
    covered = np.zeros(length, int)
    for o in offsets:
        assert 0 <= o and o + size <= length
        covered[o : o + size] += 1
    assert covered.min() >= 1
    assert offsets == sorted(set(offsets))
    for a, b in itertools.pairwise(offsets):
        assert a + size - b >= overlap * size - 1e-9  # neighbours share at least overlap * size pixels
    grid = tile_grid(length, 96, size, overlap)
    assert len(grid) == len(offsets) * len(axis_offsets(96, size, overlap))


# ---------------------------------------------------------------- clipping (hand-built masks)
def _rect(shape: tuple[int, int], *boxes: tuple[int, int, int, int]) -> np.ndarray:
    mask = np.zeros(shape, bool)
    for x0, y0, x1, y1 in boxes:
        mask[y0:y1, x0:x1] = True
    return mask


def _tiles(
    mask: np.ndarray, min_visible: float, min_area: int = 4, overlap: float = 0.5
) -> dict[tuple[int, int], dict]:
    h, w = mask.shape
    tiles = clip_to_tiles(mask, w, h, TileSpec(32, overlap, min_visible, 1), min_area)
    return {(t["x"], t["y"]): t for t in tiles}


def test_an_instance_across_a_border_is_clipped_and_kept_or_dropped_by_its_visible_share():
    mask = _rect((64, 64), (26, 4, 42, 14))  # 16 x 10 = 160 px; 60 px (0.375) left of x = 32, 100 right
    tiles = _tiles(mask, min_visible=0.4)  # tiles at x, y = 0, 16, 32: the one at x = 16 holds it whole
    left, middle, right = tiles[(0, 0)], tiles[(16, 0)], tiles[(32, 0)]
    assert left["instances"] == [] and left["touched"] and left["dropped"] == 1
    assert [(i["bbox_xyxy"], i["area"], i["visible"]) for i in middle["instances"]] == [([10, 4, 26, 14], 160, 1.0)]
    (inst,) = right["instances"]
    assert inst["bbox_xyxy"] == [0, 4, 10, 14]  # tile coordinates
    assert inst["area"] == 100 and inst["visible"] == 0.625
    assert inst["segmentation"] == [[0.0, 4.0, 0.0, 14.0, 10.0, 14.0, 10.0, 4.0]]  # pixel edges
    assert not tiles[(0, 16)]["touched"] and not tiles[(32, 32)]["touched"]

    at_threshold = _tiles(mask, min_visible=0.375)[(0, 0)]  # 60 / 160 is exactly 0.375: kept
    assert [i["bbox_xyxy"] for i in at_threshold["instances"]] == [[26, 4, 32, 14]]
    assert at_threshold["instances"][0]["area"] == 60
    too_few_pixels = _tiles(mask, min_visible=0.3, min_area=61)[(0, 0)]  # 0.375 >= 0.3, but 60 px < 61
    assert too_few_pixels["instances"] == [] and too_few_pixels["dropped"] == 1
    # no tile holds it whole (overlap 0): measured against the most one tile shows (100 px), 60 px is 0.6
    assert [i["area"] for i in _tiles(mask, min_visible=0.4, overlap=0.0)[(0, 0)]["instances"]] == [60]


def test_a_defect_longer_than_a_tile_is_kept_where_the_most_of_it_shows():
    mask = _rect((32, 96), (0, 10, 96, 12))  # 192 px; each 32 px tile shows 64 (1/3 of it)
    tiles = _tiles(mask, min_visible=0.5, overlap=0.0)
    for x in (0, 32, 64):
        (inst,) = tiles[(x, 0)]["instances"]
        assert inst["bbox_xyxy"] == [0, 10, 32, 12] and inst["area"] == 64


def test_a_visible_part_in_pieces_gives_one_instance_per_piece():
    u = _rect((64, 64), (10, 10, 14, 40), (20, 10, 24, 40), (10, 36, 24, 40))  # a U whose bottom is below y = 32
    (tile,) = [t for t in clip_to_tiles(u, 64, 64, TileSpec(32, 0.0, 0.3, 1), 4) if (t["x"], t["y"]) == (0, 0)]
    assert [i["bbox_xyxy"] for i in tile["instances"]] == [[10, 10, 14, 32], [20, 10, 24, 32]]
    assert [i["area"] for i in tile["instances"]] == [88, 88]


def test_background_tiles_are_capped_seeded_and_never_show_a_dropped_defect():
    mask = _rect((96, 96), (26, 4, 42, 14))  # 100 px right of x = 32 (kept), 60 px left (0.6 of 100: dropped)
    tiles = clip_to_tiles(mask, 96, 96, TileSpec(32, 0.0, 0.7, 1), 4)
    positive = [t for t in tiles if t["instances"]]
    sliver = [t for t in tiles if t["touched"] and not t["instances"]]
    assert len(positive) == 1 and len(sliver) == 1
    for n in (0, 2, 100):
        picked = select_tiles(tiles, n, seed=0, key="hole_000.png")
        assert picked == select_tiles(tiles, n, seed=0, key="hole_000.png")  # deterministic
        assert positive[0] in picked and sliver[0] not in picked
        assert len(picked) == 1 + min(n, len(tiles) - 2)
    picks = {tuple((t["x"], t["y"]) for t in select_tiles(tiles, 2, seed=s, key="k")) for s in range(6)}
    assert len(picks) > 1  # the seed picks the background tiles


# ---------------------------------------------------------------- the written tree
@pytest.fixture(scope="module")
def tiled(tmp_path_factory) -> tuple[Path, Path]:
    """(source category, tiled prep): 128 px images, 64 px tiles, rectangles crossing tile borders."""
    root = make_category(tmp_path_factory.mktemp("src") / "wood", per_defect=4, good=3, size=128)
    rng = np.random.default_rng(1)
    for mask_path in sorted((root / "ground_truth").rglob("*_mask.png")):  # bigger rectangles, some cut by borders
        x0, y0 = (int(v) for v in rng.integers(30, 70, 2))
        write_png(mask_path, _rect((128, 128), (x0, y0, x0 + 20, y0 + 12)).astype(np.uint8) * 255)
    out = tmp_path_factory.mktemp("prep") / "tiled"
    from wood.prep.config import PrepConfig
    from wood.prep.pipeline import run_prep

    run_prep(PrepConfig(source=root, out=out, workers=1, tile=TILE, train_good=True))
    return root, out


def _read(path: Path, flags: int = cv2.IMREAD_UNCHANGED) -> np.ndarray:
    return cv2.imdecode(np.frombuffer(path.read_bytes(), np.uint8), flags)


def test_tiles_are_crops_of_their_source_at_the_recorded_offset(tiled):
    root, out = tiled
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["tile"] == {
        "size": 64,
        "overlap": 0.2,
        "min_visible": 0.3,
        "background": 1,
        "keep_full": False,
        "splits": ["train", "val"],
    }
    full = {r["name"]: r for r in manifest["full_images"]}
    assert {r["split"] for r in full.values()} == {"train", "val"}
    tiles = [r for r in manifest["images"] if "tile" in r]
    assert tiles and {r["split"] for r in tiles} == {"train", "val"}
    assert all(r["split"] == "test" for r in manifest["images"] if "tile" not in r)  # no full train/val image
    ids = [r["id"] for r in manifest["images"] + manifest["full_images"]]
    assert len(ids) == len(set(ids))
    for r in tiles:
        t = r["tile"]
        assert r["name"] == f"{Path(t['image']).stem}_x{t['x']:04d}_y{t['y']:04d}.png"
        assert r["split"] == full[t["image"]]["split"]  # all tiles of an image in its split
        assert (t["width"], t["height"]) == (r["width"], r["height"]) == (TILE, TILE)
        path = out / "yolo" / "images" / r["split"] / r["name"]
        assert hashlib.sha256(path.read_bytes()).hexdigest() == r["sha256"]
        crop = _read(root / r["source"])[t["y"] : t["y"] + TILE, t["x"] : t["x"] + TILE]
        assert np.array_equal(_read(path), crop)
    test = [r for r in manifest["images"] if r["split"] == "test"]
    assert test and all("tile" not in r and r["width"] == 128 for r in test)  # test stays full images
    for r in test:
        assert (out / "yolo" / "images" / "test" / r["name"]).read_bytes() == (root / r["source"]).read_bytes()
    for name, r in full.items():  # classify/ keeps full images
        assert _read(out / "classify" / r["split"] / r["defect"] / name).shape[:2] == (128, 128)
        assert not (out / "yolo" / "images" / r["split"] / name).exists()


def test_clipped_instances_read_back_at_the_tile_pixels_in_every_format(tiled):
    root, out = tiled
    manifest = json.loads((out / "manifest.json").read_text())
    checked = 0
    for split in ("train", "val"):
        coco = json.loads((out / "coco" / f"{split}.json").read_text())
        assert coco == {
            **json.loads((out / "coco" / "annotations" / f"instances_{split}.json").read_text()),
            "info": coco["info"],
        }
        anns: dict[int, list[dict]] = {}
        for ann in coco["annotations"]:
            anns.setdefault(ann["image_id"], []).append(ann)
        for r in (r for r in manifest["images"] if r["split"] == split and r["instances"]):
            t = r["tile"]
            full_mask = _read(root / r["mask"]) >= 128
            crop = full_mask[t["y"] : t["y"] + TILE, t["x"] : t["x"] + TILE]
            masks = [segmentation_to_mask(a["segmentation"], TILE, TILE) for a in anns[r["id"]]]
            union = np.logical_or.reduce(masks)
            assert not (union & ~crop).any()  # COCO masks lie on the defect's pixels in the tile
            if "tile_instances_dropped" not in r["flags"]:
                assert np.array_equal(union, crop)  # and cover all of them
            boxes = (out / "yolo" / "labels" / split / f"{Path(r['name']).stem}.txt").read_text().splitlines()
            for line, mask, inst in zip(boxes, masks, r["instances"], strict=True):
                xc, yc, w, h = (float(v) * TILE for v in line.split()[1:])
                ys, xs = np.nonzero(mask)
                want = [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]
                assert np.allclose([xc - w / 2, yc - h / 2, xc + w / 2, yc + h / 2], want, atol=1e-3)
                assert inst["bbox_xyxy"] == [int(v) for v in want] and inst["area"] == int(mask.sum())
                checked += 1
    assert checked >= 5
    clipped = [i for r in manifest["images"] if "tile" in r for i in r["instances"] if i["visible"] < 1]
    assert len(clipped) >= 2  # the rectangles cross tile borders: clipped instances were checked
    plain, holed = read_back(out)  # YOLO-seg polygons against COCO, as Ultralytics rasterises them
    assert plain and min(plain) == 1.0


def test_background_tiles_per_image_and_the_counts_in_stats(tiled):
    _, out = tiled
    manifest = json.loads((out / "manifest.json").read_text())
    stats = json.loads((out / "stats.json").read_text())
    per_image: dict[str, list[dict]] = {}
    for r in manifest["images"]:
        if "tile" in r:
            per_image.setdefault(r["tile"]["image"], []).append(r)
    for name, tiles in per_image.items():
        assert sum(1 for r in tiles if not r["instances"]) <= 1, name
    good = [r for r in manifest["full_images"] if r["defect"] == "good"]
    assert good and all(len(per_image.get(r["name"], [])) == 1 for r in good)  # one background tile each
    for split in ("train", "val"):
        files = list((out / "yolo" / "images" / split).iterdir())
        s = stats["tiles"]["per_split"][split]
        assert s["tiles"] == len(files) == stats["splits"][split]["images"]
        assert s["with_instances"] + s["background"] == s["tiles"]


def test_a_tiled_yolo_folder_passes_ultralytics_label_checks(tmp_path):
    from wood.offline import setup_ultralytics
    from wood.prep.synth.write import write_synth

    setup_ultralytics()
    from ultralytics.data.utils import check_det_dataset, verify_image_label

    src = write_synth(tmp_path / "wood", size=512, per_defect=4, good=2, train_good=1, seed=0)
    out = tmp_path / "p"
    from wood.prep.config import PrepConfig
    from wood.prep.pipeline import run_prep

    run_prep(PrepConfig(source=src, out=out, workers=1, tile=256))
    for fmt in ("yolo", "yolo-seg"):
        data = check_det_dataset(str(out / fmt / "data.yaml"))
        for split in ("train", "val"):
            images = sorted(Path(data[split]).iterdir())
            assert images
            for image in images:
                label = out / fmt / "labels" / split / f"{image.stem}.txt"
                result = verify_image_label((str(image), str(label), "", False, data["nc"], 0, 0, False))
                im_file, lb, shape = result[:3]
                nm, nf, ne, nc, msg = result[5:10]
                assert im_file is not None and nc == 0 and nm == 0, msg
                assert tuple(shape) == (256, 256)


# ---------------------------------------------------------------- bad inputs
@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--tile", "48"], "multiple of 32"),
        (["--tile", "0"], "--tile"),
        (["--tile", "256"], "larger than this image"),
        (["--tile", "32", "--tile-overlap", "0.9"], "--tile-overlap"),
        (["--tile", "32", "--tile-overlap", "-0.1"], "--tile-overlap"),
        (["--tile", "32", "--tile-min-visible", "0"], "--tile-min-visible"),
        (["--tile", "32", "--tile-min-visible", "1.5"], "--tile-min-visible"),
        (["--tile", "32", "--tile-background", "-1"], "--tile-background"),
    ],
)
def test_bad_tile_options_stop_with_one_line_and_write_nothing(tmp_path, capsys, args, needle):
    cat = make_category(tmp_path / "src" / "wood")  # 32 px images
    expect_error([str(cat), *args], capsys, tmp_path / "out", needle)


# ---------------------------------------------------------------- stages that need full images
def test_paste_and_eval_refuse_a_tiled_split(tiled, prepared, tmp_path, capsys):
    _, out = tiled
    from wood.cli import main
    from wood.eval.manifest import manifest_entries

    with pytest.raises(SystemExit) as exc:
        main(["paste", str(out), "--out", str(tmp_path / "pasted")])
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert exc.value.code == 2 and len(err) == 1 and "tiled prep" in err[0], err
    assert not (tmp_path / "pasted").exists()
    for split in ("train", "val"):
        with pytest.raises(DataError, match="tiled prep"):
            manifest_entries(out, split)
    assert manifest_entries(out, "test")  # test holds full images
    require_full_images(prepared, "anything")  # an untiled prep passes
    with pytest.raises(DataError, match="--split test"):
        require_full_images(out, "evaluating", "val")


def test_tiles_keep_the_source_depth_and_a_rerun_gives_the_same_bytes(tmp_path):
    from wood.prep.config import PrepConfig
    from wood.prep.pipeline import run_prep

    root = make_category(tmp_path / "src" / "wood", per_defect=3, good=2, size=96)
    gray16 = np.random.default_rng(0).integers(0, 65535, (96, 96), dtype=np.uint16)
    for i, path in enumerate(sorted((root / "test").rglob("*.png"))):  # every image 16-bit grayscale, distinct
        write_png(path, gray16 ^ np.uint16(i + 1))
    runs = [tmp_path / "a", tmp_path / "b"]
    for out in runs:
        run_prep(PrepConfig(source=root, out=out, workers=1, tile=64, seed=3))
    files = [sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) for out in runs]
    assert files[0] == files[1]
    for rel in files[0]:
        if not rel.startswith(".wood"):
            assert (runs[0] / rel).read_bytes() == (runs[1] / rel).read_bytes(), rel
    manifest = json.loads((runs[0] / "manifest.json").read_text())
    tiles = [r for r in manifest["images"] if "tile" in r]
    assert tiles
    for r in tiles:
        got = _read(runs[0] / "yolo" / "images" / r["split"] / r["name"])
        t = r["tile"]
        assert got.dtype == np.uint16 and r["dtype"] == "uint16" and r["channels"] == 1
        assert np.array_equal(got, _read(root / r["source"])[t["y"] : t["y"] + 64, t["x"] : t["x"] + 64])


def _coco_by_file(path: Path) -> dict[str, list[dict]]:
    """coco json -> file_name: its annotations without ids (ids depend on the other images)."""
    coco = json.loads(path.read_text())
    names = {im["id"]: im["file_name"] for im in coco["images"]}
    out: dict[str, list[dict]] = {name: [] for name in names.values()}
    for a in coco["annotations"]:
        out[names[a["image_id"]]].append({k: v for k, v in a.items() if k not in ("id", "image_id")})
    return out


def test_keep_full_writes_each_full_image_as_untiled_beside_its_tiles(tmp_path):
    from wood.prep.config import PrepConfig
    from wood.prep.pipeline import run_prep

    root = make_category(tmp_path / "src" / "wood", per_defect=3, good=2, size=128)
    plain, full = tmp_path / "plain", tmp_path / "full"
    run_prep(PrepConfig(source=root, out=plain, workers=1, seed=2))
    run_prep(PrepConfig(source=root, out=full, workers=1, seed=2, tile=TILE, tile_keep_full=True))
    m_plain = json.loads((plain / "manifest.json").read_text())
    m_full = json.loads((full / "manifest.json").read_text())
    stats = json.loads((full / "stats.json").read_text())
    assert m_full["tile"]["keep_full"] is True
    untiled = {r["name"]: r for r in m_plain["images"]}
    whole = {r["name"]: r for r in m_full["images"] if "tile" not in r}
    assert whole == untiled  # every image, test included, recorded exactly as the untiled prep records it
    assert [r["name"] for r in m_full["full_images"]] == [n for n, r in whole.items() if r["split"] != "test"]
    ids = [r["id"] for r in m_full["images"]]
    assert len(ids) == len(set(ids))
    tiles = [r for r in m_full["images"] if "tile" in r]
    assert tiles and all(whole[r["tile"]["image"]]["split"] == r["split"] != "test" for r in tiles)
    for split in ("train", "val", "test"):
        names = {p.name for p in (full / "yolo" / "images" / split).iterdir()}
        assert names == {n for n, r in whole.items() if r["split"] == split} | {
            r["name"] for r in tiles if r["split"] == split
        }
        coco, coco_plain = (
            _coco_by_file(full / "coco" / f"{split}.json"),
            _coco_by_file(plain / "coco" / f"{split}.json"),
        )
        assert set(coco) == names
        assert _coco_by_file(full / "coco" / "annotations" / f"instances_{split}.json") == coco
        for name in (n for n, r in whole.items() if r["split"] == split):
            stem = Path(name).stem
            for fmt in ("yolo", "yolo-seg"):
                label = f"{fmt}/labels/{split}/{stem}.txt"
                assert (full / label).read_text() == (plain / label).read_text(), label
            img = f"yolo/images/{split}/{name}"
            assert (full / img).read_bytes() == (plain / img).read_bytes()
            assert (full / "coco" / "images" / split / name).is_file()
            assert coco[name] == coco_plain[name]
        if split != "test":
            s = stats["tiles"]["per_split"][split]
            assert s["full_images_written"] == s["full_images"] == sum(1 for r in whole.values() if r["split"] == split)
            assert s["tiles"] + s["full_images_written"] == len(names) == stats["splits"][split]["images"]
    assert sorted(p.relative_to(full).as_posix() for p in (full / "classify").rglob("*.png")) == sorted(
        p.relative_to(plain).as_posix() for p in (plain / "classify").rglob("*.png")
    )


@pytest.mark.slow
def test_eval_segment_on_a_tiled_split_refuses_and_claims_nothing_in_the_run(tiled, prepared, tmp_path, capsys):
    from _cli import run_cli
    from _sam_fixtures import train_tiny_sam

    from wood.outdir import MARKER

    _, out = tiled
    sam = train_tiny_sam(prepared, tmp_path)
    before = (sam / MARKER).read_text()
    argv = ["eval", "segment", "--run", sam, "--data", out, "--split", "val", "--device", "cpu", "--overlays", 0]
    code, err = run_cli(argv, capsys)
    assert code == 2 and "tiled prep" in err and len(err.strip().splitlines()) == 1, err
    assert not (sam / "eval-val").exists()
    assert (sam / MARKER).read_text() == before  # no name claimed: a folder put there later stays the user's
