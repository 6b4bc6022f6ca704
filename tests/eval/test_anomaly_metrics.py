"""Anomaly metrics on tiny hand-built arrays with exact expected values, and against scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import precision_recall_curve, roc_auc_score

from wood.eval.anomaly.metrics import (
    DegenerateMetricError,
    aupro,
    auroc,
    f1_max,
    false_alarm_threshold,
    pro_curve,
    rates_at,
    region_weights,
)


def test_auroc_hand_values():
    assert auroc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == pytest.approx(0.75)
    assert auroc([0, 1], [0.5, 0.5]) == pytest.approx(0.5)  # a tie counts half
    assert auroc([0, 0, 1], [0.1, 0.2, 0.9]) == pytest.approx(1.0)
    assert auroc([1, 1, 0], [0.1, 0.2, 0.9]) == pytest.approx(0.0)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_auroc_matches_sklearn_with_ties(seed):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, 500)
    s = rng.integers(0, 20, 500) / 7.0  # many ties
    assert auroc(y, s) == pytest.approx(roc_auc_score(y, s), abs=1e-12)
    maps = rng.random((3, 8, 8))
    masks = maps + rng.normal(0, 0.3, maps.shape) > 0.8
    assert auroc(masks, maps) == pytest.approx(roc_auc_score(masks.ravel(), maps.ravel()), abs=1e-12)


def test_f1_max_hand_values_and_sklearn():
    f1, thr = f1_max([1, 0, 1, 0], [0.9, 0.8, 0.7, 0.1])
    assert f1 == pytest.approx(0.8) and thr == pytest.approx(0.7)
    rng = np.random.default_rng(3)
    y, s = rng.integers(0, 2, 300), rng.integers(0, 30, 300) / 3.0
    p, r, _ = precision_recall_curve(y, s)
    ref = np.max(np.where(p + r > 0, 2 * p * r / np.maximum(p + r, 1e-300), 0))
    assert f1_max(y, s)[0] == pytest.approx(ref, abs=1e-12)


def hand_case():
    """One 2x4 image: region A = (0,0),(0,1) (size 2), region B = (1,3) (size 1), five good pixels."""
    masks = np.array([[[1, 1, 0, 0], [0, 0, 0, 1]]], bool)
    maps = np.array([[[0.9, 0.5, 0.8, 0.6], [0.3, 0.2, 0.1, 0.7]]])
    return masks, maps


def test_pro_curve_and_aupro_hand_computed():
    masks, maps = hand_case()
    weights, regions = region_weights(masks)
    assert regions == 2 and weights[0] == pytest.approx(0.25) and weights[7] == pytest.approx(0.5)
    fpr, pro = pro_curve(masks, maps)
    # thresholds 0.9 (A), 0.8 (good), 0.7 (B), 0.6 (good), 0.5 (A), then the three other good pixels
    np.testing.assert_allclose(fpr, [0, 0, 0.2, 0.2, 0.4, 0.4, 0.6, 0.8, 1.0])
    np.testing.assert_allclose(pro, [0, 0.25, 0.25, 0.75, 0.75, 1.0, 1.0, 1.0, 1.0])
    # up to FPR 0.3: 0.2 x 0.25 + 0.1 x 0.75 = 0.125, normalised by 0.3
    assert aupro(masks, maps) == pytest.approx(0.125 / 0.3)
    assert aupro(masks, maps, fpr_limit=1.0) == pytest.approx(0.05 + 0.15 + 0.6)
    assert aupro(masks, np.where(masks, 1.0, 0.0)) == pytest.approx(1.0)


def test_aupro_regions_are_8_connected_and_span_images():
    masks = np.zeros((2, 4, 4), bool)
    masks[0, 0, 0] = masks[0, 1, 1] = True  # diagonal neighbours: one region of size 2
    masks[1, 3, 3] = True  # a second region, in the second image
    weights, regions = region_weights(masks)
    assert regions == 2
    np.testing.assert_allclose(weights.sum(), 1.0)
    assert weights[0] == pytest.approx(0.25) and weights[16 + 15] == pytest.approx(0.5)
    # images of different sizes: the same curve as one stacked array
    m, a = hand_case()
    extra_mask, extra_map = np.zeros((3, 3), bool), np.full((3, 3), 0.05)
    both = aupro([m[0], extra_mask], [a[0], extra_map])
    fpr, pro = pro_curve([m[0], extra_mask], [a[0], extra_map])
    assert fpr[2] == pytest.approx(1 / 14) and both > aupro(m, a)  # 9 more good pixels, all scored lowest


def test_degenerate_inputs_raise_clear_errors():
    with pytest.raises(DegenerateMetricError, match="anomalous"):
        auroc([0, 0], [0.1, 0.2])
    with pytest.raises(DegenerateMetricError, match="good"):
        auroc([1, 1], [0.1, 0.2])
    with pytest.raises(DegenerateMetricError, match="region"):
        aupro(np.zeros((1, 3, 3), bool), np.zeros((1, 3, 3)))
    with pytest.raises(ValueError, match="same shape"):
        aupro(np.ones((1, 3, 3), bool), np.zeros((1, 3, 4)))
    with pytest.raises(ValueError, match="NaN"):
        auroc([0, 1], [0.1, np.nan])
    with pytest.raises(DegenerateMetricError, match="good images"):
        false_alarm_threshold([], 0.05)


def test_false_alarm_threshold_and_rates():
    good = np.arange(1, 11) / 10.0
    assert false_alarm_threshold(good, 0.1) == pytest.approx(0.9)  # only 1.0 is above: 10%
    assert false_alarm_threshold(good, 0.05) == pytest.approx(1.0)  # none above
    assert false_alarm_threshold(good, 0.25) == pytest.approx(0.8)  # two of ten above
    r = rates_at([0, 0, 0, 1, 1], [0.1, 0.5, 0.9, 0.6, 0.95], 0.55)
    assert r == {"recall": 1.0, "false_alarm": pytest.approx(1 / 3), "anomalous": 2, "good": 3}
    assert rates_at([0, 0], [0.1, 0.2], 0.15)["recall"] is None
