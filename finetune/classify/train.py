"""Training glue of `wood finetune classify`: phases, loss, loop, run folder.

Strategies become phases (see :func:`plan_phases`):
- scratch:  one phase, every layer trainable, random init.
- transfer: one phase, pretrained backbone (ResNet18 or MobileNetV2) frozen (BatchNorm statistics too),
  only the head trains.
- finetune: the transfer phase for ``epochs`` at ``lr``, then every layer trainable for
  ``finetune_epochs`` at ``finetune_lr`` with a fresh optimizer.
When the last phase trained BatchNorm layers (scratch, finetune), their running statistics are
recomputed on the training images with the final weights (:func:`recalibrate_batchnorm`).
``--finetune-bn frozen`` (the default for mobilenet_v2) keeps BatchNorm in eval mode during the finetune
phase instead: the ImageNet statistics stay, only the layers' scale and shift train, and nothing is
recalibrated.

``--balance loss`` uses logit-adjusted cross-entropy (Menon et al., "Long-tail learning via logit
adjustment", ICLR 2021): during training the logits get ``+ tau * log(prior)`` (tau = 1, prior =
train class frequencies) before the usual cross-entropy; predictions use the raw logits. We chose it
over inverse-frequency class weights because (1) it is consistent for the balanced error, which is
what per-class accuracy measures; (2) it does not multiply the gradient of a class with two or three
images by 10-30x, which with batch sizes of 16 and a few dozen images makes the class-weighted loss
very noisy; (3) it has no weight normalisation to choose. ``--balance sampler`` instead draws each
class equally often (with replacement); the two are alternatives, not meant to be combined.

Training runs on Hugging Face Accelerate (wood.finetune.engine): ``--precision`` (fp32, or bf16/fp16
autocast), ``--accumulate`` and data-parallel processes under ``accelerate launch`` or ``torchrun``;
how a step batch is cut into shares and micro-batches is in :mod:`wood.finetune.classify.loop`.
Only the main process evaluates, recalibrates BatchNorm and writes: it picks the run folder and
broadcasts its path, so several processes write one run folder.

The run folder (written under a temporary name and renamed when complete, so an interrupted run
never leaves a half-written folder) holds config.yaml, metrics.json, weights.pt and
confusion_test.png (plus confusion_val.png when there is a val split).
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from wood.config import write_config
from wood.errors import ConfigError
from wood.finetune.classify.config import ClassifyConfig
from wood.finetune.classify.data import SPLITS, SplitData, class_counts, load_dataset
from wood.finetune.classify.loop import check_shardable, phase_record, train_epoch
from wood.finetune.classify.models import (
    build_model,
    find_pretrained_weights,
    freeze_all_but_head,
    load_pretrained,
    unfreeze_all,
)
from wood.finetune.classify.predict import accuracy_on, batches, predict, recalibrate_batchnorm  # noqa: F401 - re-exported
from wood.finetune.classify.run import WEIGHTS_FORMAT
from wood.outdir import atomic_output, check_replaceable
from wood.runs import MARKER_KIND, choose_run_dir, write_metrics_json


@dataclass
class Phase:
    name: str
    epochs: int
    lr: float
    head_only: bool
    frozen_bn: bool = False  # BatchNorm layers in eval mode while the rest trains (see ClassifyConfig.finetune_bn)


def plan_phases(cfg: ClassifyConfig) -> list[Phase]:
    """The training phases of a config's strategy (see the module docstring)."""
    if cfg.strategy == "scratch":
        return [Phase("scratch", cfg.epochs, cfg.lr, head_only=False)]
    phases = [Phase("transfer", cfg.epochs, cfg.lr, head_only=True)]
    if cfg.strategy == "finetune" and cfg.finetune_epochs > 0:
        phases.append(
            Phase("finetune", cfg.finetune_epochs, cfg.finetune_lr, head_only=False, frozen_bn=cfg.finetune_frozen_bn)
        )
    return phases


def resolve_device(device: str):
    """:func:`wood.device.resolve_device` as a torch.device (what the classifier code holds)."""
    import torch

    from wood.device import resolve_device as resolve

    return torch.device(resolve(device))


def seed_everything(seed: int) -> None:
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.cuda.manual_seed_all(seed)
    torch.backends.cudnn.benchmark = False
    torch.backends.cudnn.deterministic = True


def configure_phase(model, phase: Phase, cfg: ClassifyConfig):
    """Freeze or unfreeze for ``phase`` and return a fresh optimizer over the trainable parameters."""
    import torch

    if phase.head_only:
        freeze_all_but_head(model)
    else:
        unfreeze_all(model)
    params = [p for p in model.parameters() if p.requires_grad]
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(params, lr=phase.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    return torch.optim.Adam(params, lr=phase.lr, weight_decay=cfg.weight_decay)


def run_dir_for(cfg: ClassifyConfig) -> Path:
    """The final run folder (wood.runs' policy): a taken name gets -2, -3... unless exist_ok or resume."""
    return choose_run_dir(cfg.out, cfg.run_name, exist_ok=cfg.exist_ok, resume=cfg.resume)


@dataclass
class Setup:
    """What training starts from: the dataset in memory, the model (unwrapped) on its device, the seeded
    generator (the same on every process) and the train class counts with their log prior (for
    ``--balance loss``), and the Accelerator that runs the steps."""

    classes: list[str]
    splits: dict[str, SplitData]
    model: Any
    device: Any
    generator: Any
    counts: list[int]
    log_prior: Any
    pretrained: Any
    accelerator: Any = None
    checkpoints: Path | None = None  # where the epoch checkpoints go (wood.finetune.classify.resume)
    start: dict[str, Any] | None = None  # the checkpoint a --resume continues from

    @property
    def is_main(self) -> bool:
        return self.accelerator is None or self.accelerator.is_main_process


def prepare(cfg: ClassifyConfig, dataset: tuple[list[str], dict[str, SplitData]] | None = None) -> Setup:
    """Find the pretrained weights (before reading any image), make the Accelerator (a precision the device
    cannot do is a ConfigError), load the dataset, seed, build the model."""
    import torch

    from wood.finetune.engine import make_accelerator, world_size

    weights_path = find_pretrained_weights(cfg.arch, cfg.weights) if cfg.needs_pretrained else None
    accelerator = make_accelerator(precision=cfg.precision, accumulate=cfg.accumulate, device=cfg.device, seed=cfg.seed)
    if accelerator.num_processes != world_size():  # each process alone would write a run folder of its own
        raise ConfigError(
            f"the launcher started {world_size()} processes but Accelerate runs {accelerator.num_processes} "
            f"({accelerator.distributed_type}); without a GPU pass --device cpu"
        )
    device = accelerator.device
    classes, splits = dataset if dataset is not None else load_dataset(cfg.data, cfg.imgsz)
    if splits["train"].images.shape[-1] != cfg.imgsz:
        raise ConfigError(f"preloaded images are {splits['train'].images.shape[-1]} px but imgsz is {cfg.imgsz}")
    check_shardable(len(splits["train"]), cfg.accumulate, accelerator.num_processes)
    seed_everything(cfg.seed)  # the same model init, epoch order and augmentation on every process
    generator = torch.Generator().manual_seed(cfg.seed)
    model = build_model(cfg.arch, len(classes))
    pretrained = load_pretrained(model, cfg.arch, weights_path) if weights_path is not None else None
    model.to(device)
    if accelerator.process_index:  # dropout differs per process; process 0 keeps the one-process stream
        torch.manual_seed(cfg.seed + accelerator.process_index)
    counts = class_counts(splits["train"].labels, len(classes))
    log_prior = torch.log(torch.tensor(counts, dtype=torch.float32).clamp(min=1) / max(sum(counts), 1)).to(device)
    return Setup(classes, splits, model, device, generator, counts, log_prior, pretrained, accelerator)


def fit(setup: Setup, cfg: ClassifyConfig, name: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Every epoch of every phase, with a progress bar; returns (history per epoch, one entry per phase).
    Each phase prepares the model and a fresh optimizer with the Accelerator (DDP registers the parameters
    that train, and the finetune phase unfreezes more); the validation accuracy is the main process's.
    After each epoch a checkpoint is saved (``setup.checkpoints``); ``setup.start`` resumes from one: the
    phases before it are skipped, its phase is prepared and the saved state loaded into it."""
    from wood.console import progress_bar
    from wood.finetune.classify import resume

    accelerator, raw, splits, start = setup.accelerator, setup.model, setup.splits, setup.start
    history: list[dict[str, Any]] = list(start["history"]) if start else []
    phase_log: list[dict[str, Any]] = list(start["phase_log"]) if start else []
    bar = progress_bar()
    bar.disable = bar.disable or not setup.is_main  # one bar, the main process's
    phases = plan_phases(cfg)
    with bar:
        task = bar.add_task(f"classify {name}", total=sum(p.epochs for p in phases), info="")
        bar.update(task, advance=len(history))
        for index, phase in enumerate(phases):
            if start and index < start["phase"]:
                continue
            model, optimizer = accelerator.prepare(raw, configure_phase(raw, phase, cfg))
            first = 0
            if start and index == start["phase"]:
                accelerator.load_state(str(start["state_dir"]))
                setup.generator.set_state(start["generator"])
                first = start["epochs_done"]
            else:
                phase_log.append(phase_record(phase, raw))
            for done in range(first + 1, phase.epochs + 1):
                loss = train_epoch(
                    accelerator, model, optimizer, raw, splits["train"], cfg, phase, setup.generator, setup.log_prior
                )
                val_acc = (
                    accuracy_on(raw, splits["val"], setup.device) if setup.is_main and len(splits["val"]) else None
                )
                history.append(
                    {"phase": phase.name, "epoch": len(history) + 1, "loss": round(loss, 5), "val_acc": val_acc}
                )
                if setup.checkpoints is not None:
                    record = resume.progress_record(
                        cfg, accelerator.num_processes, index, done, history, phase_log, setup.generator
                    )
                    resume.save(accelerator, setup.checkpoints, record)
                info = f"loss {loss:.3f}" + (f" val {val_acc:.1%}" if val_acc is not None else "")
                bar.update(task, advance=1, info=info)
            accelerator.free_memory()  # forget this phase's wrapper and optimizer (the next prepares its own)
    return history, phase_log


def recalibrate_after(setup: Setup, cfg: ClassifyConfig) -> int:
    """BatchNorm recalibration when the last phase trained BatchNorm layers (see the module docstring)."""
    last = plan_phases(cfg)[-1]
    if last.head_only or last.frozen_bn:
        return 0
    return recalibrate_batchnorm(setup.model, setup.splits["train"].images, setup.device, cfg.batch)


def score_splits(setup: Setup) -> dict[str, dict[str, Any]]:
    """metrics.json's block per split (final weights, eval mode, un-augmented images)."""
    from wood.finetune.classify.metrics import split_metrics

    out = {}
    for split in SPLITS:
        data = setup.splits[split]
        preds = predict(setup.model, data.images, setup.device) if len(data) else np.zeros((0,), dtype=np.int64)
        out[split] = split_metrics(data.labels.numpy(), preds, setup.classes)
    return out


def write_confusions(scores: dict[str, dict[str, Any]], setup: Setup, folder: Path, name: str) -> None:
    """confusion_<split>.png for val and test (when they have images)."""
    from wood.finetune.classify.metrics import save_confusion_png

    for split in SPLITS:
        if len(setup.splits[split]) and split != "train":
            save_confusion_png(
                np.array(scores[split]["confusion"]),
                setup.classes,
                folder / f"confusion_{split}.png",
                f"{name} {split}",
            )


def training_record(setup: Setup, history: list, phase_log: list, bn_layers: int, elapsed: float) -> dict[str, Any]:
    """The rest of metrics.json: how the run trained."""
    return {
        "train_class_counts": dict(zip(setup.classes, setup.counts, strict=True)),
        "phases": phase_log,
        "history": history,
        "pretrained": setup.pretrained,
        "batchnorm_recalibrated_layers": bn_layers,
        "train_time_s": round(elapsed, 2),
        "notes": "train/val/test accuracy: final weights, eval mode, un-augmented images, after BatchNorm "
        "recalibration on the train images (not for head-only training); history val_acc is before it",
    }


def engine_record(setup: Setup, cfg: ClassifyConfig) -> dict[str, Any]:
    """How the steps ran: precision, accumulation, processes and the global batch they make."""
    processes = setup.accelerator.num_processes if setup.accelerator is not None else 1
    return {
        "precision": cfg.precision,
        "accumulate": cfg.accumulate,
        "processes": processes,
        "global_batch": cfg.batch * cfg.accumulate * processes,
    }


def weights_record(cfg: ClassifyConfig, setup: Setup) -> dict[str, Any]:
    """weights.pt: what :func:`wood.finetune.classify.run.load_model` rebuilds the model from."""
    state = {k: v.detach().cpu() for k, v in setup.model.state_dict().items()}
    return {
        "format": WEIGHTS_FORMAT,
        "arch": cfg.arch,
        "classes": setup.classes,
        "imgsz": cfg.imgsz,
        "state_dict": state,
    }


def train(cfg: ClassifyConfig, dataset: tuple[list[str], dict[str, SplitData]] | None = None) -> Path:
    """Train per ``cfg`` and return the run folder (on every process). ``dataset`` (classes, splits) may
    be given preloaded at cfg.imgsz (experiments reuse it across rows); otherwise it is read from cfg.data.

    Raises WeightsError before reading any image when pretrained weights are needed and absent.
    """
    from wood.finetune.classify import resume

    setup = prepare(cfg, dataset)
    final = shared_run_dir(setup.accelerator, cfg)
    setup.checkpoints = resume.resume_dir(final)
    if cfg.resume:
        setup.start = resume.load(setup.checkpoints, final, cfg, setup.accelerator.num_processes)
    if not setup.is_main:
        fit(setup, cfg, final.name)  # the main process evaluates and writes
        setup.accelerator.wait_for_everyone()
        return final
    try:
        write_run(setup, cfg, final)
        resume.finish(setup.checkpoints)
    finally:
        setup.accelerator.wait_for_everyone()
    return final


def shared_run_dir(accelerator, cfg: ClassifyConfig) -> Path:
    """The run folder the main process picks (:func:`run_dir_for`), the same path on every process. A new
    run also gets an empty checkpoint folder there (an unfinished run's old one is discarded); a problem
    with either is raised on every process."""
    from wood.console import console
    from wood.errors import WoodError
    from wood.finetune.classify import resume

    final, problem = None, None
    if accelerator.is_main_process:
        try:
            final = run_dir_for(cfg)
            if not cfg.resume:  # a refused --exist-ok stops here, before its checkpoint folder exists
                check_replaceable(final.absolute(), MARKER_KIND, inputs=[cfg.data])
            if not cfg.resume and resume.start_fresh(resume.resume_dir(final)):
                console.print(f"discarded the checkpoint of an unfinished run {final.name} (--resume continues one)")
        except WoodError as exc:
            problem = (type(exc), exc.message, exc.path)
    if accelerator.num_processes > 1:
        from accelerate.utils import broadcast_object_list

        final, problem = broadcast_object_list([None if final is None else str(final), problem])
    if problem is not None:
        raise problem[0](problem[1], problem[2])
    return Path(final)


def write_run(setup: Setup, cfg: ClassifyConfig, final: Path) -> None:
    """Train, score and write the run folder ``final`` (the main process)."""
    import torch

    from wood.console import console

    with atomic_output(final, MARKER_KIND, inputs=[cfg.data]) as tmp:
        start = time.time()
        history, phase_log = fit(setup, cfg, final.name)
        bn_layers = recalibrate_after(setup, cfg)
        elapsed = time.time() - start

        metrics: dict[str, Any] = {
            "classes": setup.classes,
            "seed": cfg.seed,
            "device": str(setup.device),
            "data": cfg.data,
            **engine_record(setup, cfg),
        }
        metrics.update(score_splits(setup))
        write_confusions(metrics, setup, tmp, final.name)
        metrics.update(training_record(setup, history, phase_log, bn_layers, elapsed))
        torch.save(weights_record(cfg, setup), tmp / "weights.pt")
        write_config(cfg, tmp / "config.yaml")
        write_metrics_json(tmp, "classify", metrics)
    acc = {s: metrics[s]["acc"] for s in SPLITS}
    console.print(f"{final}: " + "  ".join(f"{s} {a:.1%}" for s, a in acc.items() if a is not None))
