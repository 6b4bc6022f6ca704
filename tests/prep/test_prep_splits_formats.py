"""Splits (stratified, seeded, grouped) and the pure YOLO/COCO converters, on hand-built inputs."""

from __future__ import annotations

from collections import Counter

import pytest

from wood.prep.formats.convert import coco_dataset, yolo_box_line, yolo_seg_line
from wood.prep.splits import SplitSpec, assign_splits, split_counts


def test_split_counts_keep_every_split_populated_and_near_2_to_1():
    assert split_counts(10, SplitSpec()) == (6, 1, 3)
    assert split_counts(3, SplitSpec()) == (1, 1, 1)
    assert split_counts(1, SplitSpec()) == (1, 0, 0)
    train, val, test = split_counts(300, SplitSpec())
    assert test == 100 and train + val == 200


def _keys(n_per_type: dict[str, int]):
    keys, strata = [], []
    for t, n in n_per_type.items():
        keys += [f"{t}_{i}" for i in range(n)]
        strata += [t] * n
    return keys, strata


def test_splits_are_stratified_seeded_and_deterministic():
    keys, strata = _keys({"hole": 9, "scratch": 12, "good": 6})
    a = assign_splits(keys, strata, keys, SplitSpec(seed=0))
    assert a == assign_splits(keys, strata, keys, SplitSpec(seed=0))
    assert a != assign_splits(keys, strata, keys, SplitSpec(seed=1))
    per = Counter((k.split("_")[0], s) for k, s in a.items())
    assert per[("hole", "test")] == 3 and per[("scratch", "test")] == 4 and per[("good", "test")] == 2


def test_groups_share_a_split_and_fixed_keys_pull_their_group():
    keys, strata = _keys({"hole": 8})
    groups = ["g0", "g0", "g0", "g1", "g2", "g3", "g4", "g5"]
    for seed in range(20):
        a = assign_splits(keys, strata, groups, SplitSpec(seed=seed))
        assert len({a[k] for k, g in zip(keys, groups, strict=True) if g == "g0"}) == 1
    fixed = assign_splits(keys, strata, groups, SplitSpec(), fixed={"hole_1": "train"})
    assert fixed["hole_0"] == fixed["hole_2"] == "train"
    with pytest.raises(ValueError, match="equal lengths"):
        assign_splits(keys, strata[:-1], groups, SplitSpec())


def test_yolo_lines_are_normalised_xywhn_and_polygons():
    assert yolo_box_line(2, [0, 0, 64, 32], 128, 64) == "2 0.250000 0.250000 0.500000 0.500000"
    assert yolo_seg_line(0, [0, 0, 64, 0, 64, 32], 128, 64) == "0 0.000000 0.000000 0.500000 0.000000 0.500000 0.500000"
    with pytest.raises(ValueError, match=">= 3 points"):
        yolo_seg_line(0, [0, 0, 1, 1], 10, 10)


def test_coco_ids_start_at_1_and_area_is_the_mask_area():
    records = [
        {
            "id": 7,
            "name": "a.png",
            "height": 10,
            "width": 10,
            "defect": "hole",
            "instances": [{"class_id": 0, "bbox_xyxy": [1, 1, 4, 4], "area": 5, "segmentation": [[1, 1, 4, 1, 4, 4]]}],
        },
        {"id": 9, "name": "b.png", "height": 10, "width": 10, "defect": "good", "instances": []},
    ]
    coco = coco_dataset(records, ["hole", "scratch"], "wood", "../yolo/images/train")
    (ann,) = coco["annotations"]
    assert ann["id"] == 1 and ann["category_id"] == 1 and ann["image_id"] == 7
    assert ann["bbox"] == [1, 1, 3, 3] and ann["area"] == 5
    assert [c["id"] for c in coco["categories"]] == [1, 2]
    assert [i["id"] for i in coco["images"]] == [7, 9]
