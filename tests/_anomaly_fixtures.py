"""A tiny prepared wood category for anomaly tests: 64 px synthetic images, train/good kept as good train images."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

SMALL = ["--imgsz", "64", "--batch", "16"]
"""Options that keep a fit well under a second: 64 px input (an 8 x 8 feature grid)."""


@pytest.fixture(scope="session")
def anomaly_prep(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from wood.prep.config import PrepConfig
    from wood.prep.pipeline import run_prep
    from wood.prep.synth.write import write_synth

    root = write_synth(tmp_path_factory.mktemp("anomaly-synth") / "wood", size=64, per_defect=4, good=8, train_good=6)
    out = tmp_path_factory.mktemp("anomaly-prep") / "wood"
    run_prep(PrepConfig(source=root, out=out, workers=1, train_good=True))
    return out


@pytest.fixture
def prep_copy(anomaly_prep: Path, tmp_path: Path) -> Path:
    """A private copy of ``anomaly_prep`` that a test may damage."""
    return Path(shutil.copytree(anomaly_prep, tmp_path / "prep"))
