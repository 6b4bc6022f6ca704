"""Shared fixtures: a small synthetic MVTec category and its prepared split (built once)."""

from __future__ import annotations

from pathlib import Path

import pytest

# urllib3 (imported by accelerate via boto3, and by Ultralytics via requests) probes for IPv6 at import by
# binding a socket to ::1: not a network attempt, but pytest-socket flags any socket made inside a test.
# Imported here, at collection, the probe runs before sockets are blocked; every outward connection
# made during the tests is still blocked.
import urllib3  # noqa: F401


@pytest.fixture(scope="session", autouse=True)
def one_torch_thread():
    """Tiny models run in one torch thread: on a 2-core (often shared) CPU, torch's default of
    one thread per core oversubscribes it and made tiny SAM steps ~30x slower."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session", autouse=True)
def private_wood_home(tmp_path_factory: pytest.TempPathFactory):
    """Tests never write the user's ~/.cache/wood (Ultralytics config dir, weights lookup)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("WOOD_HOME", str(tmp_path_factory.mktemp("wood-home-session")))
        mp.delenv("WOOD_WEIGHTS", raising=False)
        yield


@pytest.fixture(scope="session")
def synth_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A synthetic `wood` category: 128 px, 4 images per defect type, 3 good (test) + 3 train/good."""
    from wood.prep.synth.write import write_synth

    return write_synth(tmp_path_factory.mktemp("synth") / "wood", size=128, per_defect=4, good=3, train_good=3, seed=0)


@pytest.fixture(scope="session")
def prepared(synth_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`wood prep` output of ``synth_root`` with default options."""
    from wood.prep.config import PrepConfig
    from wood.prep.pipeline import run_prep

    out = tmp_path_factory.mktemp("prepared") / "wood"
    run_prep(PrepConfig(source=synth_root, out=out, workers=1))
    return out
