"""wood/plotting.py: figures go to PNG files or buffers on the Agg backend, and are closed even when saving
fails (a long report must not keep hundreds of figures open)."""

from __future__ import annotations

import io

import pytest

from wood.plotting import pyplot, save_figure


def test_save_figure_writes_a_png_and_closes_the_figure(tmp_path):
    plt = pyplot()
    assert plt.get_backend().lower() == "agg"
    fig, ax = plt.subplots(figsize=(2, 1), dpi=50)
    ax.plot([0, 1], [0, 1])
    buf = io.BytesIO()
    save_figure(fig, buf)
    assert buf.getvalue()[:8] == b"\x89PNG\r\n\x1a\n"
    assert fig.number not in plt.get_fignums()
    fig = plt.figure()
    save_figure(fig, tmp_path / "f.png")
    assert (tmp_path / "f.png").read_bytes()[:4] == b"\x89PNG" and plt.get_fignums() == []


def test_save_figure_closes_the_figure_when_saving_fails(tmp_path):
    plt = pyplot()
    fig = plt.figure()
    with pytest.raises(OSError):
        save_figure(fig, tmp_path / "missing-folder" / "f.png")
    assert fig.number not in plt.get_fignums()
