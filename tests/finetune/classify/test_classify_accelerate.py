"""`wood finetune classify` on Accelerate: precision, gradient accumulation, two processes, bad inputs.

Two processes run as `accelerate launch --multi_gpu --num_processes 2` with no GPU visible: the launcher
starts them with torchrun and Accelerate falls back to DDP over gloo on the CPU. (`accelerate launch
--cpu --num_processes 2` starts ONE process: without mpirun its simple launcher does not fork.)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch
from _classify_fixtures import write_classify_tree, write_fake_resnet18

from wood.finetune.classify.config import ClassifyConfig
from wood.finetune.classify.loop import micro_positions, micro_weight, step_batches
from wood.finetune.classify.train import train

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("classify_accelerate")
    data = write_classify_tree(root / "prep", size=32)  # 18 train images, 6 classes
    write_fake_resnet18(root / "fake_resnet18.pth")
    return {"data": data, "weights": root / "fake_resnet18.pth"}


def _cfg(tiny, out, **kw):
    return ClassifyConfig(data=str(tiny["data"]), epochs=1, imgsz=32, device="cpu", out=str(out), **kw)


def _transfer(tiny, out, **kw):
    """Head-only training of a pretrained ResNet18: the backbone and its BatchNorm statistics are frozen
    (eval mode) and ResNet18 has no dropout, so the gradient of a step depends only on which images it
    sees: the batch can be split without changing it (up to float summation order)."""
    return _cfg(
        tiny, out, arch="resnet18", strategy="transfer", weights=str(tiny["weights"]), optimizer="sgd", lr=0.5, **kw
    )


def _fc(run):
    state = torch.load(run / "weights.pt", map_location="cpu", weights_only=True)["state_dict"]
    return torch.cat([state["fc.weight"].flatten(), state["fc.bias"]])


def test_every_image_of_a_step_lands_in_exactly_one_micro_batch():
    order = torch.randperm(19, generator=torch.Generator().manual_seed(0))
    steps = step_batches(order, batch=2, accumulate=2, processes=2)
    assert [len(s) for s in steps] == [7, 6, 6]  # ceil(19 / 8) = 3 near-equal steps, none of 3 images
    for step in steps:
        taken = [p for rank in (0, 1) for p in micro_positions(len(step), 2, 2, rank)]
        assert len(taken) == 4 and all(len(p) >= 1 for p in taken)
        assert sorted(torch.cat(taken).tolist()) == list(range(len(step)))
        weighted = sum(micro_weight(len(p), len(step), 2, 2) / (2 * 2) for p in taken)
        assert weighted == pytest.approx(1.0)  # the micro-batch means add up to the step's mean


def test_bf16_autocast_on_cpu_trains_with_finite_loss(tiny, tmp_path):
    run = train(_cfg(tiny, tmp_path, precision="bf16", batch=8))
    m = json.loads((run / "metrics.json").read_text())
    assert m["precision"] == "bf16" and m["processes"] == 1
    assert all(torch.isfinite(torch.tensor(h["loss"])) and h["loss"] > 0 for h in m["history"])
    assert torch.load(run / "weights.pt", weights_only=True)["state_dict"]["fc.weight"].dtype == torch.float32


def test_accumulate_2_x_batch_4_is_one_step_of_batch_8(tiny, tmp_path):
    whole = _fc(train(_transfer(tiny, tmp_path, batch=8, name="b8")))
    accumulated = _fc(train(_transfer(tiny, tmp_path, batch=4, accumulate=2, name="b4x2")))
    smaller = _fc(train(_transfer(tiny, tmp_path, batch=4, name="b4")))
    assert torch.allclose(whole, accumulated, atol=1e-5, rtol=0)
    assert (whole - smaller).abs().max() > 1e-3  # batch 4 alone takes other steps: the check can fail
    m = json.loads((tmp_path / "b4x2" / "metrics.json").read_text())
    assert (m["accumulate"], m["global_batch"]) == (2, 8)


def _free_port() -> int:
    """A free localhost port, asked in a child process (pytest-socket blocks sockets in this one)."""
    code = "import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])"
    return int(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)


def test_two_processes_write_one_run_folder_with_the_one_process_weights(tiny, tmp_path):
    script = tmp_path / "wood_main.py"
    script.write_text("from wood.cli import main\n\nmain()\n")
    out = tmp_path / "runs"
    launch = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2"]
    launch += ["--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no"]
    launch += ["--main_process_port", str(_free_port()), str(script)]
    args = ["finetune", "classify", "--data", str(tiny["data"]), "--arch", "resnet18", "--strategy", "transfer"]
    args += ["--weights", str(tiny["weights"]), "--optimizer", "sgd", "--lr", "0.5", "--epochs", "1"]
    args += ["--imgsz", "32", "--batch", "4", "--device", "cpu", "--out", str(out), "--name", "ddp"]
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "OMP_NUM_THREADS": "1"}
    done = subprocess.run(launch + args, capture_output=True, text=True, timeout=240, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    assert [p.name for p in out.iterdir()] == ["ddp"]  # one run folder, not one per process
    assert done.stdout.split().count(str(out / "ddp")) == 1  # printed once, by the main process
    m = json.loads((out / "ddp" / "metrics.json").read_text())
    assert (m["processes"], m["global_batch"]) == (2, 8)
    single = _fc(train(_transfer(tiny, tmp_path / "single", batch=8)))
    assert torch.allclose(_fc(out / "ddp"), single, atol=1e-5, rtol=0)  # 2 x batch 4 == 1 x batch 8


@pytest.mark.parametrize(
    "extra, words",
    [(["--precision", "fp16"], ["fp16", "GPU"]), (["--accumulate", "0"], ["accumulate", ">= 1"])],
)
def test_bad_precision_or_accumulate_is_one_line_exit_2(tiny, tmp_path, capsys, extra, words):
    from wood.cli import main

    out = tmp_path / "runs"
    with pytest.raises(SystemExit) as info:
        main(["finetune", "classify", "--data", str(tiny["data"]), "--device", "cpu", "--out", str(out), *extra])
    err = capsys.readouterr().err.strip()
    assert info.value.code == 2 and "\n" not in err and all(w in err for w in words), err
    assert not out.exists() or not any(out.iterdir())
