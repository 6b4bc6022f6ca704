"""YOLO on GPUs: training runs the AMP check offline (Ultralytics' own downloads yolo26n.pt) on CUDA, and
`--device 0,1` reaches Ultralytics' DDP launch (checked without a GPU)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from _yolo_fixtures import no_network, tiny_cfg, wood_home  # noqa: F401 - pytest fixtures


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


class _DdpLaunched(Exception):
    """Raised in place of Ultralytics' DDP subprocess (the test stops there)."""


def test_device_list_reaches_ultralytics_ddp_launch(prepared: Path, tmp_path: Path, monkeypatch, no_network, wood_home):  # noqa: F811
    """`--device 0,1` with two (pretend) GPUs: wood's device check passes it on and Ultralytics' trainer takes
    its DDP branch, building a `torch.distributed.run --nproc_per_node 2` command. No GPU is touched: the
    device count, Ultralytics' device selection, its free-port probe and the subprocess are stand-ins,
    and the test stops at the command."""
    from wood.finetune.yolo.train import train
    from wood.offline import setup_ultralytics

    setup_ultralytics()  # offline before Ultralytics is imported
    import ultralytics.engine.trainer as ul_trainer
    import ultralytics.utils.dist as ul_dist

    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(ul_dist, "find_free_network_port", lambda: 29999)  # it opens a socket
    monkeypatch.setattr(ul_trainer, "select_device", lambda *a, **k: torch.device("cuda", 0))
    launched: list[list[str]] = []

    def run(cmd, **kwargs):
        launched.append([str(c) for c in cmd])
        raise _DdpLaunched

    monkeypatch.setattr(ul_trainer.subprocess, "run", run)
    with pytest.raises(_DdpLaunched):
        train(tiny_cfg(prepared, tmp_path, device="0,1"))
    assert len(launched) == 1
    cmd = launched[0]
    assert "torch.distributed.run" in cmd and cmd[cmd.index("--nproc_per_node") + 1] == "2"
    assert no_network == []
