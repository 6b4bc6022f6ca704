"""wood/dataset_config.py: defect types a category's config does not know, and a bad colour stopping when the
config is loaded (the same config through `wood prep` is a row of tests/cli/test_hostile.py)."""

from __future__ import annotations

import pytest

from wood.dataset_config import load_dataset_config, unknown_defect_types
from wood.errors import ConfigError


def test_unknown_defect_types_is_empty_without_classes():
    wood = load_dataset_config("wood")
    assert unknown_defect_types(["hole", "dent", "scrach"], wood) == ["dent", "scrach"]
    assert unknown_defect_types(["anything"], load_dataset_config("no-such-category")) == []


def test_bad_colour_stops_when_the_config_is_loaded(tmp_path):
    config = tmp_path / "wood.yaml"
    config.write_text("classes:\n  hole: {colour: '#zzzzzz'}\n  scratch: {colour: '#00ff00'}\n")
    with pytest.raises(ConfigError, match="classes.hole.colour"):
        load_dataset_config("wood", config)
