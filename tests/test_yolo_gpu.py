"""On CUDA: training runs the AMP check offline (Ultralytics' own downloads yolo26n.pt)."""

from __future__ import annotations

from pathlib import Path

import pytest
from _yolo_fixtures import no_network, tiny_cfg, wood_home  # noqa: F401 - pytest fixtures

torch = pytest.importorskip("torch")


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_training_amp_check_needs_no_download(prepared: Path, tmp_path: Path, monkeypatch, no_network, wood_home):  # noqa: F811
    import wood.offline as offline
    from wood.finetune.yolo.train import train

    calls: list[bool] = []
    original = offline.offline_amp_check

    def spy(model):
        calls.append(original(model))
        return calls[-1]

    monkeypatch.setattr(offline, "offline_amp_check", spy)  # setup_ultralytics() installs it in the trainer
    run = train(tiny_cfg(prepared, tmp_path, device="0"))
    assert calls and calls[0] in (True, False)
    assert (run / "weights" / "best.pt").is_file()
    assert not (Path(offline.default_weights_dir()) / "yolo26n.pt").exists()
    assert no_network == []
