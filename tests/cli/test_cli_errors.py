"""wood/cli/__init__.py's error handling: an OSError without a file name still names one, Ctrl-C is one line and
exit 130, and --debug anywhere on the line shows the traceback instead of the one line."""

from __future__ import annotations

import errno

import pytest
from _mvtec_fixtures import make_category

from wood.cli import main, os_error_line, split_debug
from wood.errors import DataError


def run_cli(args: list[str], capsys) -> tuple[int, str]:
    """Run `wood ARGS` through the real entry point; returns (exit code, stderr)."""
    with pytest.raises(SystemExit) as exc:
        main(args)
        raise SystemExit(0)
    return exc.value.code or 0, capsys.readouterr().err


def test_os_error_line():
    assert os_error_line(OSError(errno.ENOSPC, "No space left on device")) == "No space left on device"
    copy = OSError(errno.ENOSPC, "No space left on device", "/src/a.png", None, "/out/a.png")
    assert os_error_line(copy) == "/out/a.png: No space left on device"  # shutil.copyfile: filename2 is the target
    assert os_error_line(OSError(errno.EACCES, "Permission denied", "/x")) == "/x: Permission denied"


def test_ctrl_c_prints_interrupted_and_exits_130(tmp_path, capsys, monkeypatch):
    import wood.prep.pipeline as pipeline

    cat = make_category(tmp_path / "src" / "wood")

    def interrupt(cfg):
        raise KeyboardInterrupt

    monkeypatch.setattr(pipeline, "run_prep", interrupt)
    code, err = run_cli(["prep", str(cat), "--out", str(tmp_path / "out")], capsys)
    assert (code, err) == (130, "interrupted\n")


@pytest.mark.parametrize("where", ["first", "after the command", "last"])
def test_debug_anywhere_shows_the_traceback(tmp_path, where):
    args = ["prep", str(tmp_path / "nope"), "--out", str(tmp_path / "out")]
    positions = {
        "first": ["--debug", *args],
        "after the command": ["prep", "--debug", *args[1:]],
        "last": [*args, "--debug"],
    }
    args = positions[where]
    with pytest.raises(DataError, match="does not exist"):
        main(args)


def test_split_debug():
    assert split_debug(["prep", "x", "--debug"]) == (["prep", "x"], True)
    assert split_debug(["--debug", "prep"]) == (["prep"], True)
    assert split_debug(["prep", "--", "--debug"]) == (["prep", "--", "--debug"], False)
