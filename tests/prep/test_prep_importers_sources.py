"""prep/importers/sources.py: the label sources `wood import` reads (a COCO json, a CVAT zip, a YOLO-seg folder)
become one LabelSet; what is wrong in one is one DataError naming the file."""

from __future__ import annotations

import json
import zipfile

import pytest

from wood.errors import DataError
from wood.prep.importers.sources import load_json, open_labels, yolo_annotation

CATS = {1: "hole", 2: "scratch"}


def coco(images=None, annotations=None, categories=None) -> dict:
    return {
        "images": images if images is not None else [{"id": 7, "file_name": "a.png", "width": 4, "height": 3}],
        "annotations": annotations if annotations is not None else [{"id": 1, "image_id": 7, "category_id": 2}],
        "categories": categories if categories is not None else [{"id": 2, "name": "scratch"}],
    }


def test_yolo_annotation_lines():
    assert yolo_annotation("1 0.5 0.5 0.2 0.2", CATS, "a.txt:1") == {
        "id": "a.txt:1",
        "category_id": 2,
        "yolo": [0.5, 0.5, 0.2, 0.2],
    }
    assert len(yolo_annotation("0 0 0 1 0 1 1", CATS, "w")["yolo"]) == 6


@pytest.mark.parametrize(
    "line, message",
    [
        ("x 0.5 0.5 0.2 0.2", "not a YOLO label line: 'x 0.5 0.5 0.2 0.2'"),
        ("2 0.5 0.5 0.2 0.2", "class id 2 is not in data.yaml names (ids 0..1)"),
        ("0 0.1 0.1 0.2 0.2 0.3", "a polygon needs >= 3 points (x y pairs), but the line has 5 values"),
        ("0 0.1 0.1 0.2 0.2 0.3 1.5", "coordinates must be normalised to [0, 1]"),
    ],
)
def test_bad_yolo_lines(line, message):
    with pytest.raises(DataError) as exc:
        yolo_annotation(line, CATS, "labels/a.txt:3")
    assert str(exc.value) == f"labels/a.txt:3: {message}"


@pytest.mark.parametrize(
    "data, message",
    [
        (b"{", "not valid JSON (JSONDecodeError)"),
        (b"[]", "not a COCO file: not a JSON object"),
        (b'{"images": [], "annotations": []}', "not a COCO file: no 'categories' list"),
    ],
)
def test_load_json_refuses_what_is_not_coco(data, message):
    with pytest.raises(DataError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_json(data, "x.json")


def test_coco_json_with_its_images_folder(tmp_path):
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "a.png").write_bytes(b"png bytes")
    path = tmp_path / "labels.json"
    path.write_text(json.dumps(coco()))
    labels = open_labels(path, None)
    assert (labels.kind, labels.categories, len(labels.images)) == ("coco", {2: "scratch"}, 1)
    image = labels.images[0]
    assert (image.file_name, image.width, image.height, image.read()) == ("a.png", 4, 3, b"png bytes")
    assert [a["id"] for a in image.annotations] == [1]


@pytest.mark.parametrize(
    "doc, message",
    [
        (
            coco(images=[{"id": 7, "file_name": "gone.png"}]),
            "1 image(s) the labels name are not there (first: gone.png)",
        ),
        (coco(images=[{"id": 7, "file_name": "a.png"}] * 2), "image id 7 is listed twice"),
        (coco(annotations=[{"id": 1, "image_id": 8, "category_id": 2}]), "annotation 1 names no listed image"),
        (coco(annotations=[{"id": 1, "image_id": 7, "category_id": 5}]), "has category_id 5, which is not in"),
        (coco(categories=[{"id": "2", "name": "scratch"}]), "a category has no integer 'id' or no 'name'"),
    ],
)
def test_bad_coco_is_one_error_naming_the_file(tmp_path, doc, message):
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "a.png").write_bytes(b"png")
    path = tmp_path / "labels.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(DataError) as exc:
        open_labels(path, None)
    assert message in str(exc.value) and "labels.json" in str(exc.value)


def test_cvat_zip_reads_images_from_the_zip(tmp_path):
    path = tmp_path / "task.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("annotations/instances_default.json", json.dumps(coco()))
        zf.writestr("images/a.png", b"zipped png")
    labels = open_labels(path, None)
    assert labels.images[0].read() == b"zipped png" and labels.images[0].where == f"{path}!images/a.png"
    with zipfile.ZipFile(tmp_path / "two.zip", "w") as zf:
        zf.writestr("annotations/a.json", "{}")
        zf.writestr("annotations/b.json", "{}")
    with pytest.raises(DataError, match="expected exactly one annotations/\\*.json"):
        open_labels(tmp_path / "two.zip", None)


def test_yolo_seg_folder(tmp_path):
    (tmp_path / "images" / "train").mkdir(parents=True)
    (tmp_path / "labels" / "train").mkdir(parents=True)
    (tmp_path / "data.yaml").write_text("names: [hole, scratch]\n")
    (tmp_path / "images" / "train" / "a.png").write_bytes(b"a")
    (tmp_path / "images" / "train" / "b.png").write_bytes(b"b")  # no label file: a good image
    (tmp_path / "labels" / "train" / "a.txt").write_text("1 0.1 0.1 0.5 0.1 0.5 0.5\n\n0 0.5 0.5 0.2 0.2\n")
    labels = open_labels(tmp_path, None)
    assert (labels.kind, labels.categories) == ("yolo-seg", {1: "hole", 2: "scratch"})
    assert [im.file_name for im in labels.images] == ["train/a.png", "train/b.png"]
    assert [a["category_id"] for a in labels.images[0].annotations] == [2, 1] and labels.images[1].annotations == []
    (tmp_path / "data.yaml").write_text("nc: 2\n")
    with pytest.raises(DataError, match="data.yaml has no 'names'"):
        open_labels(tmp_path, None)


def test_missing_sources():
    with pytest.raises(DataError, match="labels file or folder does not exist"):
        open_labels("/nope/labels.json", None)
