"""Names read from files are data, options mean something or are refused, outputs given as links land
where the link points: one test per fix (each failed before it), user files asserted byte-identical."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest
from _cli import run_cli

from wood.deploy.export import check_imgsz
from wood.errors import ConfigError, DataError
from wood.eval.slicing import slice_settings
from wood.fsutil import link_or_copy
from wood.names import check_path_length, inside, plain_name
from wood.prep.config import PrepConfig
from wood.prep.paste.check import check_instances
from wood.prep.pipeline import run_prep
from wood.prep.synth.write import write_synth


@pytest.fixture(scope="module")
def prep(tmp_path_factory) -> Path:
    """A 64 px prep with good train images (paste's backgrounds)."""
    root = tmp_path_factory.mktemp("data")
    src = write_synth(root / "src" / "wood", size=64, per_defect=2, good=2, train_good=2, seed=0)
    out = root / "prep"
    run_prep(PrepConfig(source=src, out=out, workers=1, train_good=True))
    return out


def tree(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): "<dir>" if p.is_dir() else hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
    }


def one_error(argv: list, capsys) -> str:
    code, err = run_cli(argv, capsys)
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, err
    return lines[0]


def test_a_manifest_name_cannot_write_outside_out(prep, tmp_path, capsys):
    """Case 1: a record named `../../../../victim.png` once made paste overwrite B/victim.png with the
    bytes of A/victim.png (and end in a SameFileError where both were one file)."""
    a, b = tmp_path / "A", tmp_path / "B"
    shutil.copytree(prep, a / "prep")
    (a / "victim.png").write_bytes(b"bytes from elsewhere")
    b.mkdir()
    (b / "victim.png").write_bytes(b"the user's own picture")
    manifest = json.loads((a / "prep" / "manifest.json").read_text())
    next(r for r in manifest["images"] if r["split"] == "test")["name"] = "../../../../victim.png"
    (a / "prep" / "manifest.json").write_text(json.dumps(manifest))
    before_a, before_b = tree(a), tree(b)
    line = one_error(["paste", a / "prep", "--out", b / "out", "--images", "2", "--workers", "1"], capsys)
    assert "manifest.json" in line and "is a path, not a plain file name" in line
    assert (b / "victim.png").read_bytes() == b"the user's own picture"
    assert tree(a) == before_a and tree(b) == before_b  # nothing written on either side, no staging left


def test_same_file_named_twice_is_refused_before_any_copy(prep, tmp_path, capsys):
    """Where A and B are one folder the edited name pointed a copy at its own source (SameFileError)."""
    b = tmp_path / "B"
    shutil.copytree(prep, b / "prep")
    (b / "victim.png").write_bytes(b"the user's own picture")
    manifest = json.loads((b / "prep" / "manifest.json").read_text())
    next(r for r in manifest["images"] if r["split"] == "test" and not r["instances"])["name"] = (
        "../../../../victim.png"
    )
    (b / "prep" / "manifest.json").write_text(json.dumps(manifest))
    before = tree(b)
    one_error(["paste", b / "prep", "--out", b / "out", "--images", "2", "--workers", "1"], capsys)
    assert tree(b) == before


def test_paste_manifest_agrees_with_its_masks_and_a_paste_of_it_too(prep, tmp_path, capsys):
    """paste's manifest takes the source's instance boxes only once they are the masks' (an edited one
    is refused, see the hostile table); the output passes the same check, so a paste of a paste works."""
    out = tmp_path / "pasted"
    code, err = run_cli(["paste", prep, "--out", out, "--images", "3", "--workers", "1"], capsys)
    assert code == 0, err
    check_instances(out, json.loads((out / "manifest.json").read_text())["images"])
    code, err = run_cli(["paste", out, "--out", tmp_path / "again", "--images", "2", "--workers", "1"], capsys)
    assert code == 0, err


def test_out_as_a_link_to_an_earlier_output_replaces_the_target_and_keeps_the_link(prep, tmp_path, capsys):
    """`--out LINK` where LINK points at an earlier prep was refused as "not a folder": the target is
    the output; the link is never replaced and points at the new output."""
    src = Path(json.loads((prep / "manifest.json").read_text())["source"])
    real = tmp_path / "store" / "prep"
    code, err = run_cli(["prep", src, "--out", real, "--seed", "0"], capsys)
    assert code == 0, err
    (tmp_path / "link").symlink_to(real)
    code, err = run_cli(["prep", src, "--out", tmp_path / "link", "--seed", "3"], capsys)
    assert code == 0, err
    assert os.readlink(tmp_path / "link") == str(real)
    assert json.loads((real / "manifest.json").read_text())["seed"] == 3
    assert sorted(p.name for p in real.parent.iterdir()) == ["prep"]  # no staging, no lock left
    # the same through paste; a link to a user's folder is refused and both stay as they were
    code, err = run_cli(["paste", prep, "--out", tmp_path / "link", "--images", "2", "--workers", "1"], capsys)
    assert code == 0, err
    assert "paste" in json.loads((real / "manifest.json").read_text())
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "keep.txt").write_text("mine\n")
    (tmp_path / "link2").symlink_to(tmp_path / "mine")
    line = one_error(["prep", src, "--out", tmp_path / "link2"], capsys)
    assert "not a wood prep output" in line
    assert (tmp_path / "mine" / "keep.txt").read_text() == "mine\n" and (tmp_path / "link2").is_symlink()


def test_report_finds_a_run_linked_into_the_folder(prep, tmp_path, capsys):
    """A run folder linked into the folder given to `wood report` was not found (os.walk does not follow)."""
    from _report_fixtures import write_yolo_run

    elsewhere = write_yolo_run(prep, tmp_path / "elsewhere" / "yolo-run", world=False, jitter=0.0, seed=0)
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "linked").symlink_to(elsewhere)
    (tmp_path / "runs" / "loop").symlink_to(tmp_path / "runs")  # a link loop ends
    code, err = run_cli(["report", tmp_path / "runs", "--out", tmp_path / "report"], capsys)
    assert code == 0, err
    assert "1 detection" in err and "linked" in (tmp_path / "report" / "report.md").read_text()


def test_slice_options_without_slice_are_refused():
    assert slice_settings(None) is None
    for kwargs, flag in [
        ({"overlap": 0.5}, "--slice-overlap"),
        ({"merge": "nmm"}, "--slice-merge"),
        ({"full": False}, "--no-slice-full"),
        ({"full": True}, "--slice-full"),
        ({"drop_cut": True}, "--slice-drop-cut"),
    ]:
        with pytest.raises(ConfigError, match=f"^{flag} needs --slice SIZE"):
            slice_settings(None, **kwargs)
    assert slice_settings(64).overlap == 0.2 and slice_settings(64).merge == "nms" and slice_settings(64).full


def test_tile_options_without_tile_are_refused():
    for key, value in [
        ("tile_overlap", 0.5),
        ("tile_min_visible", 0.5),
        ("tile_keep_full", True),
        ("tile_background", 2),
    ]:
        with pytest.raises(ConfigError, match="needs --tile SIZE"):
            PrepConfig(**{key: value})
        PrepConfig(tile=64, **{key: value})  # with --tile: fine
    PrepConfig(tile_overlap=0.2)  # the default value, as a config file may spell it out


def test_export_sizes():
    check_imgsz(None)
    for ok in (32, 64, 640):
        check_imgsz(ok)
    for bad in (0, -64, 63, 100, True, "64"):
        with pytest.raises(ConfigError, match="positive multiple of 32"):
            check_imgsz(bad)
    with pytest.raises(ConfigError, match="positive multiple of 64"):
        check_imgsz(96, stride=64)


def test_plain_names_and_paths_inside(tmp_path):
    assert plain_name("color_000.png", "m.json") == "color_000.png"
    for bad in ("", ".", "..", "a/b.png", "../x.png", "/etc/x", "a\\b", "a\0b", "x" * 256, 3, None, ["a"]):
        with pytest.raises(DataError, match="m.json"):
            plain_name(bad, "m.json")
    (tmp_path / "prep" / "coco").mkdir(parents=True)
    coco = tmp_path / "prep" / "coco"
    assert inside(coco, "../yolo/images/train", "j", within=tmp_path / "prep") == tmp_path / "prep/yolo/images/train"
    (tmp_path / "prep" / "escape").symlink_to(tmp_path)
    for bad in ("../../x", "/etc", "../escape/x", ""):
        with pytest.raises(DataError):
            inside(coco, bad, "j", within=tmp_path / "prep")


def test_path_lengths_are_checked_part_by_part_and_whole(tmp_path):
    check_path_length(tmp_path / ("a" * 255))
    with pytest.raises(ConfigError, match="a part of 256 bytes"):
        check_path_length(tmp_path / ("a" * 256) / "b")
    with pytest.raises(ConfigError, match="PATH_MAX 4096"):
        check_path_length(tmp_path.joinpath(*["b" * 200] * 20))
    with pytest.raises(ConfigError, match="a part of 300 bytes"):  # multi-byte characters count as bytes
        check_path_length(tmp_path / ("é" * 150))


def test_link_or_copy_never_replaces_a_file(tmp_path):
    (tmp_path / "src").write_bytes(b"new")
    (tmp_path / "dst").write_bytes(b"the user's")
    with pytest.raises(FileExistsError):
        link_or_copy(tmp_path / "src", tmp_path / "dst")
    with pytest.raises(FileExistsError):
        link_or_copy(tmp_path / "dst", tmp_path / "dst")  # one file named twice: no SameFileError copy
    assert (tmp_path / "dst").read_bytes() == b"the user's"
