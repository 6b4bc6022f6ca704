"""eval/anomaly/overlays.py: the heat map is blended half and half on one shared colour scale, the ground
truth outlined in green."""

from __future__ import annotations

import cv2
import numpy as np

from wood.eval.anomaly.overlays import GREEN, overlay, write_overlay


def test_overlay_blends_the_jet_colour_of_the_scaled_map():
    rgb = np.zeros((8, 8, 3), np.uint8)
    rgb[..., 0] = 200  # red in RGB
    amap = np.zeros((8, 8), np.float32)
    amap[:, 4:] = 10.0  # right half at the top of the scale, left half below it (clipped to 0)
    out = overlay(rgb, amap - 5, np.zeros((8, 8), bool), lo=0.0, hi=5.0)
    jet = cv2.applyColorMap(np.array([[0, 255]], np.uint8), cv2.COLORMAP_JET)[0]
    expected_left = np.round(0.5 * np.array([0, 0, 200]) + 0.5 * jet[0])
    expected_right = np.round(0.5 * np.array([0, 0, 200]) + 0.5 * jet[1])
    assert np.abs(out[0, 0].astype(int) - expected_left).max() <= 1
    assert np.abs(out[0, 7].astype(int) - expected_right).max() <= 1


def test_overlay_outlines_the_mask_in_green(tmp_path):
    rgb = np.zeros((16, 16, 3), np.uint8)
    mask = np.zeros((16, 16), bool)
    mask[4:12, 4:12] = True
    out = overlay(rgb, np.zeros((16, 16)), mask, 0.0, 1.0)
    assert tuple(out[4, 4]) == GREEN and tuple(out[11, 8]) == GREEN  # on the outline
    assert tuple(out[8, 8]) != GREEN and tuple(out[0, 0]) != GREEN  # inside and outside it
    write_overlay(tmp_path / "o.png", rgb, np.zeros((16, 16)), mask, 0.0, 1.0)
    assert np.array_equal(cv2.imread(str(tmp_path / "o.png")), out)
