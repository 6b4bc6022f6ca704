"""Shared fixtures: a small synthetic MVTec category and its prepared split (built once)."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
WOOD_DERIVED_512 = REPO.parent / "shared" / "data" / "wood_derived_512"


@pytest.fixture(scope="session")
def synth_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A synthetic `wood` category: 128 px, 4 images per defect type, 3 good (test) + 3 train/good."""
    from wood.prep.synth_io import write_synth

    return write_synth(tmp_path_factory.mktemp("synth") / "wood", size=128, per_defect=4, good=3, train_good=3, seed=0)


@pytest.fixture(scope="session")
def prepared(synth_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`wood prep` output of ``synth_root`` with default options."""
    from wood.prep.config import PrepConfig
    from wood.prep.pipeline import run_prep

    out = tmp_path_factory.mktemp("prepared") / "wood"
    run_prep(PrepConfig(source=synth_root, out=out, workers=1))
    return out
