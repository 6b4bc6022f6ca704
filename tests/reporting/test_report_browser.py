"""report.html in a real browser: headless Chromium (Debian package `chromium`) renders the page from
disk, offline, through scripts/render_report.sh; the screenshot is not blank, the figures were drawn,
and the rendered DOM has every table row."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest
from _report_fixtures import built_report, report_runs  # noqa: F401 - session fixtures

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "render_report.sh"
CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))

pytestmark = pytest.mark.skipif(
    not CHROMIUM.is_file(),
    reason=f"{CHROMIUM} is absent: install it with `apt-get install -y chromium` to test the page in a browser",
)


def colour_fraction(image_bgr: np.ndarray, rgb: tuple[int, int, int], tol: int = 30) -> float:
    """Fraction of pixels within ``tol`` of the colour ``rgb`` in every channel."""
    target = np.array(rgb[::-1], dtype=np.int16)
    return float((np.abs(image_bgr.astype(np.int16) - target).max(axis=2) <= tol).mean())


def test_report_renders_in_headless_chromium(built_report, report_runs, tmp_path):  # noqa: F811 - imported fixtures
    page = built_report["out"] / "report.html"
    shot, dom = tmp_path / "shot.png", tmp_path / "dom.html"
    env = {**os.environ, "CHROMIUM": str(CHROMIUM), "WIDTH": "1280", "HEIGHT": "4000"}
    proc = subprocess.run(
        ["bash", str(SCRIPT), str(page), str(shot), str(dom)], env=env, capture_output=True, text=True, timeout=180
    )
    assert proc.returncode == 0, proc.stderr
    image = cv2.imread(str(shot))
    assert image is not None and image.shape[:2] == (4000, 1280)
    gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    assert gray.std() > 20  # a blank (all white) page has std 0
    assert (gray < 128).mean() > 0.02  # text, borders and figures
    top = gray[:200]
    assert (top < 100).mean() > 0.01  # the title and the navigation are drawn at the top
    assert colour_fraction(image, (0x43, 0x63, 0xD8)) > 0.001  # the class-count chart's train bars (an embedded PNG)
    assert colour_fraction(image, (0xEE, 0xF1, 0xF4), tol=3) > 0.001  # table header cells (the CSS applied)

    rendered = dom.read_text(encoding="utf-8")
    assert rendered.count("<img ") >= 8 and 'src="data:image/png;base64,' in rendered
    for caption in ("All runs", "Detection runs", "SAM runs", "Per-class IoU / Dice", "Five-attempt table"):
        assert f"<caption>{caption}" in rendered, caption
    for run in report_runs["yolo"] + report_runs["sam"] + report_runs["classify"]:
        assert f"<b>{run.name}</b>" in rendered
    assert rendered.count("<tr>") >= 2 + 1 + 2 + 5 + 6  # detection, SAM, per-class SAM, five attempts, overview rows
