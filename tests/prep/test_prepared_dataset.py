"""wood.prep.dataset.PreparedDataset on small hand-built manifests: the values it gives and its exact errors."""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path

import pytest

from wood.errors import DataError
from wood.prep.dataset import FORMAT, PreparedDataset, manifest_path, manifest_sha256, prep_tiling, tiled_splits

SHA = "ab" * 32


def record(name: str, split: str, defect: str, image_id: int, instances: list | None = None, **extra) -> dict:
    return {
        "id": image_id,
        "name": name,
        "split": split,
        "defect": defect,
        "sha256": SHA,
        "height": 64,
        "width": 48,
        "flags": [],
        "instances": instances or [],
        **extra,
    }


HOLE = {"class": "hole", "class_id": 0, "bbox_xyxy": [1, 2, 5, 9], "area": 20}
MANIFEST = {
    "format": FORMAT,
    "category": "wood",
    "seed": 0,
    "options": {"min_area": 4},
    "classes": ["hole", "scratch"],
    "tile": None,
    "images": [
        record("hole_000.png", "train", "hole", 1, [HOLE]),
        record("good_000.png", "train", "good", 2),
        record("hole_001.png", "test", "hole", 3, [HOLE]),
        record("good_001.png", "test", "good", 4),
    ],
}


def write(folder: Path, manifest: object) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    text = manifest if isinstance(manifest, str) else json.dumps(manifest)
    (folder / "manifest.json").write_text(text, encoding="utf-8")
    return folder


def error(call, *args) -> str:
    with pytest.raises(DataError) as exc:
        call(*args)
    return str(exc.value)


def test_a_good_folder_gives_its_manifest_records_trees_and_hash(tmp_path):
    folder = write(tmp_path / "p", MANIFEST)
    dataset = PreparedDataset.open(folder)
    assert dataset.folder == folder and dataset.path == folder / "manifest.json" == manifest_path(folder)
    assert dataset.sha256 == hashlib.sha256((folder / "manifest.json").read_bytes()).hexdigest()
    assert dataset.sha256 == manifest_sha256(folder) and manifest_sha256(tmp_path) is None
    assert (dataset.format, dataset.category, dataset.classes) == (FORMAT, "wood", ["hole", "scratch"])
    assert dataset.options == {"min_area": 4}
    assert dataset.splits == ["train", "test"]
    assert [r["name"] for r in dataset.images()] == ["hole_000.png", "good_000.png", "hole_001.png", "good_001.png"]
    assert [r["id"] for r in dataset.images("test")] == [3, 4] and dataset.images("val") == []
    assert dataset.images("train")[0]["instances"] == [HOLE]
    assert dataset.defect_types("test") == {"hole_001.png": "hole", "good_001.png": "good"}
    assert list(dataset.entries("train")) == ["hole_000.png", "good_000.png"]
    assert dataset.images() == MANIFEST["images"]  # the records as written, nothing added
    assert (dataset.tile, dataset.tiling, dataset.tiled_splits, dataset.full_images()) == (None, None, [], [])
    assert dataset.image_path(dataset.images("test")[1]) == folder / "yolo" / "images" / "test" / "good_001.png"
    assert dataset.coco_path("val") == folder / "coco" / "val.json"
    trees = (dataset.yolo_dir, dataset.yolo_seg_dir, dataset.coco_dir, dataset.classify_dir, dataset.stats_path)
    assert trees == tuple(folder / n for n in ("yolo", "yolo-seg", "coco", "classify", "stats.json"))
    dataset.check_full()  # every record has what paste needs
    assert PreparedDataset.read(folder) == dataset


def test_from_manifest_is_pure():
    dataset = PreparedDataset.from_manifest("nowhere", MANIFEST)
    assert dataset.sha256 == "" and dataset.folder == Path("nowhere")
    assert dataset.defect_types("train") == {"hole_000.png": "hole", "good_000.png": "good"}


def test_missing_folder_and_missing_manifest(tmp_path):
    assert error(PreparedDataset.open, tmp_path / "nope") == (
        f"{tmp_path / 'nope'}: prepared dataset folder does not exist or is not a folder (run `wood prep` first)"
    )
    (tmp_path / "empty").mkdir()
    assert error(PreparedDataset.open, tmp_path / "empty") == (
        f"{tmp_path / 'empty'}: no manifest.json: not a `wood prep` output folder (run `wood prep SRC --out DIR`)"
    )
    assert PreparedDataset.read(tmp_path / "empty") is None  # the lenient reader: no manifest, no dataset
    assert PreparedDataset.read(tmp_path / "nope") is None


@pytest.mark.parametrize(
    "fmt,shown", [("wood-prep/0", "'wood-prep/0'"), (None, "None"), ("someone-else/3", "'someone-else/3'")]
)
def test_a_wrong_format_version_is_refused_by_open_only(tmp_path, fmt, shown):
    manifest = {**MANIFEST, "format": fmt}
    folder = write(tmp_path / "p", manifest)
    assert error(PreparedDataset.open, folder) == (
        f"{folder / 'manifest.json'}: manifest format is {shown}, not 'wood-prep/1': an older/other format; "
        "re-run `wood prep`"
    )
    assert PreparedDataset.read(folder).defect_types("test")["hole_001.png"] == "hole"  # eval reads any format


def test_no_images_or_classes_list(tmp_path):
    for key in ("images", "classes"):
        folder = write(tmp_path / key, {k: v for k, v in MANIFEST.items() if k != key})
        assert error(PreparedDataset.open, folder) == (
            f"{folder / 'manifest.json'}: manifest.json has no `images` or `classes` list; re-run `wood prep`"
        )


def test_not_json_or_not_an_object(tmp_path):
    folder = write(tmp_path / "p", "{not json")
    assert error(PreparedDataset.read, folder) == (
        f"{folder / 'manifest.json'}: manifest.json is not valid JSON (JSONDecodeError); re-run `wood prep`"
    )
    (folder / "manifest.json").write_bytes(b'{"format": "\xff"}')
    assert "not valid JSON (UnicodeDecodeError)" in error(PreparedDataset.open, folder)
    write(folder, [1, 2])
    assert error(PreparedDataset.open, folder) == (
        f"{folder / 'manifest.json'}: manifest.json holds a JSON list, not an object; re-run `wood prep`"
    )


@pytest.mark.parametrize(
    "edit,message",
    [
        (lambda m: m["images"].__setitem__(1, "x.png"), "images[1] is a str, not a JSON object; re-run `wood prep`"),
        (
            lambda m: m["images"][2].__setitem__("name", "../../victim.png"),
            "images[2].name '../../victim.png' is a path, not a plain file name (names here may not hold '/' or "
            "'\\'); names read from this file must be plain file names",
        ),
        (
            lambda m: m["images"][0].__setitem__("split", "holdout"),
            "images[0].split is 'holdout', not one of ['train', 'val', 'test']; re-run `wood prep`",
        ),
        (
            lambda m: m["images"][3].__setitem__("name", "hole_001.png"),
            "images[3]: test/hole_001.png is listed twice; re-run `wood prep`",
        ),
    ],
)
def test_a_bad_record_is_one_error_when_the_records_are_asked_for(tmp_path, edit, message):
    manifest = copy.deepcopy(MANIFEST)
    edit(manifest)
    folder = write(tmp_path / "p", manifest)
    dataset = PreparedDataset.open(folder)  # the header is fine: category and tiling stay readable
    assert dataset.category == "wood" and dataset.tiling is None
    for ask in (dataset.images, lambda: dataset.defect_types("test"), lambda: dataset.splits):
        assert error(ask) == f"{folder / 'manifest.json'}: {message}"


def test_check_full_needs_what_paste_reads(tmp_path):
    manifest = copy.deepcopy(MANIFEST)
    manifest["images"][1]["height"] = 0
    dataset = PreparedDataset.open(write(tmp_path / "p", manifest))
    assert len(dataset.images()) == 4  # the plain check does not look at sizes
    assert error(dataset.check_full) == (
        f"{dataset.path}: images[1].height is 0, not a positive integer; re-run `wood prep`"
    )
    manifest["images"][1]["height"] = 64
    manifest["images"][0]["sha256"] = "abc"
    dataset = PreparedDataset.from_manifest(tmp_path / "p", manifest)
    assert error(dataset.check_full) == (
        f"{dataset.path}: images[0].sha256 is 'abc', not a sha256 hex digest; re-run `wood prep`"
    )


def test_a_tiled_prep(tmp_path):
    tile = {"size": 32, "overlap": 0.2, "min_visible": 0.5, "background": 1, "keep_full": False}
    manifest = copy.deepcopy(MANIFEST)
    manifest["tile"] = {**tile, "splits": ["train", "val"]}
    origin = {"image": "hole_000.png", "x": 0, "y": 32, "width": 32, "height": 32, "source_sha256": SHA}
    manifest["images"][0] = record("hole_000_x0_y32.png", "train", "hole", 5, [HOLE], tile=origin)
    manifest["full_images"] = [record("hole_000.png", "train", "hole", 1, [HOLE])]
    dataset = PreparedDataset.open(write(tmp_path / "p", manifest))
    assert dataset.tiling == manifest["tile"] and dataset.tiled_splits == ["train", "val"]
    assert dataset.images("train")[0]["tile"] == origin
    assert [r["name"] for r in dataset.full_images()] == ["hole_000.png"]
    assert tiled_splits(tile) == ["train", "val"]  # older tiled manifests name no splits
    assert prep_tiling({"tile": "256"}) is None and prep_tiling([]) is None  # a hand edit is no tiling
    assert PreparedDataset.from_manifest(tmp_path, {"tile": "256"}).tile == "256"  # ...but the report shows it
