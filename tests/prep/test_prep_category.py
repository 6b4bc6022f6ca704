"""`wood prep --category`: the dataset config is not lost when the source folder has another name,
and a category without a dataset config is one warning line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from wood.cli import main
from wood.errors import ConfigError
from wood.prep.config import PrepConfig


def _prep(args: list[str], capsys) -> str:
    with pytest.raises(SystemExit) as info:
        main(["prep", *args, "--workers", "1"])
    assert info.value.code == 0
    captured = capsys.readouterr()
    return captured.out + captured.err


@pytest.fixture(scope="module")
def synth_s(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`wood synth s` as docs/data.md shows it: a wood category in a folder named `s`."""
    from wood.prep.synth.write import write_synth

    return write_synth(tmp_path_factory.mktemp("cat") / "s", size=64, per_defect=3, good=2, train_good=0, seed=0)


def _warnings(text: str) -> list[str]:
    return [line for line in text.splitlines() if "no dataset config" in line]


def test_folder_name_without_config_warns_once(synth_s: Path, tmp_path: Path, capsys):
    text = _prep([str(synth_s), "--out", str(tmp_path / "p"), "--preview", "1"], capsys)
    lines = _warnings(text)
    assert len(lines) == 1 and "'s'" in lines[0] and "--category" in lines[0]
    assert json.loads((tmp_path / "p" / "manifest.json").read_text())["category"] == "s"


def test_category_option_picks_the_dataset_config(synth_s: Path, tmp_path: Path, capsys):
    text = _prep([str(synth_s), "--out", str(tmp_path / "p"), "--category", "wood"], capsys)
    assert not _warnings(text)
    assert json.loads((tmp_path / "p" / "manifest.json").read_text())["category"] == "wood"
    coco = json.loads((tmp_path / "p" / "coco" / "train.json").read_text())
    assert {c["supercategory"] for c in coco["categories"]} == {"wood"}


def test_a_given_dataset_config_does_not_warn(synth_s: Path, tmp_path: Path, capsys):
    config = tmp_path / "mine.yaml"
    config.write_text("classes:\n  hole: {colour: '#ff0000'}\n")
    text = _prep([str(synth_s), "--out", str(tmp_path / "p"), "--dataset-config", str(config)], capsys)
    assert not _warnings(text)


@pytest.mark.parametrize("bad", ["", "../wood", "a/b", " wood"])
def test_bad_category_names_stop(bad: str):
    with pytest.raises(ConfigError, match="--category"):
        PrepConfig(category=bad)
