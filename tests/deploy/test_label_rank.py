"""deploy/label/rank.py: the review order of a pre-labelled batch, least certain first, with the reason."""

from __future__ import annotations

import pytest

from wood.deploy.label.rank import closeness, review_order, uncertainty


def test_closeness_is_one_at_the_threshold_and_zero_at_0_and_twice_it():
    assert [closeness(s, 0.25) for s in (0.25, 0.0, 0.5, 0.125, 0.375, 1.0)] == [1.0, 0.0, 0.0, 0.5, 0.5, 0.0]


def test_uncertainty_takes_the_largest_reason():
    conf = 0.5
    label = {"class": "hole", "score": 0.9}  # closeness 1 - 0.4 / 0.5 = 0.2
    assert uncertainty({"labels": [label], "near": []}, conf) == (0.2, "label hole scored 0.900")
    disagree = {**label, "agreement": 0.3}  # 1 - IoU = 0.7 beats 0.2
    assert uncertainty({"labels": [disagree], "near": []}, conf) == (
        0.7,
        "SAM and detector disagree on a hole (IoU 0.30)",
    )
    near = {"class": "scratch", "score": 0.45}  # closeness 0.9 beats both
    assert uncertainty({"labels": [disagree], "near": [near]}, conf) == (0.9, "scratch candidate scored 0.450")
    assert uncertainty({"labels": [], "near": []}, conf) == (0.0, "no candidate near the threshold")


def test_review_order_least_certain_first_ties_by_file_name():
    records = [
        {"file_name": "c.png", "labels": [{"class": "hole", "score": 0.9}], "near": []},  # 0.2
        {"file_name": "b.png", "labels": [], "near": [{"class": "hole", "score": 0.45}]},  # 0.9
        {"file_name": "a.png", "labels": [], "near": [{"class": "hole", "score": 0.55}]},  # 0.9
        {"file_name": "d.png", "labels": [], "near": []},  # 0
    ]
    rows = review_order(records, 0.5)
    assert [(r["rank"], r["file_name"], r["uncertainty"], r["labels"]) for r in rows] == [
        (1, "a.png", 0.9, 0),
        (2, "b.png", 0.9, 0),
        (3, "c.png", 0.2, 1),
        (4, "d.png", 0.0, 0),
    ]
    assert rows[0]["why"] == "hole candidate scored 0.550"
    assert set(rows[0]) == {"rank", "file_name", "uncertainty", "why", "labels"}


def test_uncertainty_is_rounded_to_4_places():
    value, _ = uncertainty({"labels": [], "near": [{"class": "x", "score": 0.1}]}, 0.3)
    assert value == pytest.approx(0.3333, abs=0) and value == 0.3333
