"""reporting/format.py: the report's number formatting and the cost columns of a run's row."""

from __future__ import annotations

import json

from wood.reporting.format import DASH, classify_params, cost, count, duration, num, pct
from wood.reporting.runs import load_run


def test_num_and_pct_dash_what_is_not_a_number():
    assert [num(0.51234), num(2, 1), num("0.5"), num(None), num(True), num("n/a"), num([1])] == [
        "0.512",
        "2.0",
        "0.500",
        DASH,
        DASH,
        DASH,
        DASH,
    ]
    assert [pct(0.1234), pct(1), pct(0.00123, 2), pct(None), pct(False), pct("x")] == [
        "12.3%",
        "100.0%",
        "0.12%",
        DASH,
        DASH,
        DASH,
    ]


def test_duration_switches_unit_at_2_min_and_2_h():
    assert [duration(s) for s in (None, 0, 12.34, 119.9, 120, 7199, 7200, 36000)] == [
        DASH,
        "0.0 s",
        "12.3 s",
        "119.9 s",
        "2.0 min",
        "120.0 min",
        "2.0 h",
        "10.0 h",
    ]


def test_count_commas_below_a_million():
    assert [count(None), count(0), count(147456), count(999_999), count(1_000_000), count(11_234_567)] == [
        DASH,
        "0",
        "147,456",
        "999,999",
        "1.0M",
        "11.2M",
    ]


def test_classify_params_per_phase():
    phases = [{"trainable_params": 3078, "total_params": 11_200_000}, {"trainable_params": 11_200_000}]
    assert classify_params({"phases": phases}) == "3,078 then 11.2M of 11.2M"
    assert classify_params({"phases": [{"trainable_params": 500}]}) == "500"
    assert classify_params({}) == DASH


def _run(tmp_path, config: str, metrics: dict):
    (tmp_path / "config.yaml").write_text(config, encoding="utf-8")
    (tmp_path / "metrics.json").write_text(json.dumps({"schema": 1, **metrics}), encoding="utf-8")
    return load_run(tmp_path)


def test_cost_of_a_sam_run(tmp_path):
    metrics = {
        "kind": "sam",
        "history": [{"seconds": 100.0}, {"seconds": 50.0}],
        "params": {"trainable": 147456, "trainable_fraction": 0.0123, "total": 10_000_000},
        "device": "cpu",
    }
    run = _run(tmp_path, "model: tiny\nadapter: lora\n", metrics)
    assert run.kind == "sam"
    assert cost(run) == ["2.5 min", "cpu", "147,456 (1.23% of 10.0M)"]


def test_cost_of_a_classify_run_takes_the_device_from_the_config(tmp_path):
    metrics = {"kind": "classify", "train_time_s": 30, "phases": [{"trainable_params": 42, "total_params": 42}]}
    run = _run(tmp_path, "arch: small_cnn\ndevice: cuda:0\n", metrics)
    assert cost(run) == ["30.0 s", "cuda:0", "42 of 42"]
