"""prep/manifest_records.py: every reader's manifest records are checked before any is used as a path."""

from __future__ import annotations

from pathlib import Path

import pytest

from wood.errors import DataError
from wood.prep.manifest_records import checked_records

PATH = Path("/p/manifest.json")
SHA = "ab" * 32


def rec(**kw) -> dict:
    base = {"name": "a.png", "split": "train", "defect": "hole", "sha256": SHA, "height": 4, "width": 4, "id": 0}
    return {**base, "instances": [], **kw}


def test_good_records_are_returned_as_they_are():
    records = [rec(), rec(name="b.png"), rec(split="test")]  # the same name in another split is fine
    assert checked_records({"images": records}, PATH, full=True) is records


@pytest.mark.parametrize(
    "manifest, full, message",
    [
        ({}, False, "manifest.json has no `images` list"),
        ([], False, "manifest.json has no `images` list"),
        ({"images": ["a.png"]}, False, "images[0] is a str, not a JSON object"),
        ({"images": [rec(name="../a.png")]}, False, "images[0].name '../a.png' is a path"),
        ({"images": [rec(split="holdout")]}, False, "images[0].split is 'holdout', not one of ['train', 'val',"),
        ({"images": [rec(defect="a/b")]}, False, "images[0].defect 'a/b' is a path"),
        ({"images": [rec(), rec()]}, False, "images[1]: train/a.png is listed twice"),
        ({"images": [rec(sha256="x")]}, True, "images[0].sha256 is 'x', not a sha256 hex digest"),
        ({"images": [rec(height=0)]}, True, "images[0].height is 0, not a positive integer"),
        ({"images": [rec(width=True)]}, True, "images[0].width is True, not a positive integer"),
        ({"images": [rec(id=-1)]}, True, "images[0].id is -1, not a positive integer"),
        ({"images": [rec(instances=[1])]}, True, "images[0].instances is not a list of objects"),
    ],
)
def test_bad_records_are_one_line_naming_the_manifest(manifest, full, message):
    with pytest.raises(DataError) as exc:
        checked_records(manifest, PATH, full=full)
    assert message in str(exc.value) and str(PATH) in str(exc.value)


def test_only_a_full_check_looks_at_sizes_and_hashes():
    bad = rec(sha256="x", height=0)
    assert checked_records({"images": [bad]}, PATH) == [bad]
