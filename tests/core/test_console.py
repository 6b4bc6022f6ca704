"""wood/console.py: progress bars go to stderr and never change what is iterated."""

from __future__ import annotations

from wood.console import console, progress_bar, track


def test_track_yields_every_item_in_order():
    assert list(track([3, 1, 2], "x")) == [3, 1, 2]
    assert list(track((i * i for i in range(4)), "gen", total=4)) == [0, 1, 4, 9]
    assert list(track([], "empty")) == []


def test_the_console_is_stderr_and_bars_hide_off_a_terminal():
    assert console.stderr
    bar = progress_bar()
    assert bar.disable == (not console.is_terminal)
