"""The classification training loop on Hugging Face Accelerate: optimizer steps, micro-batches, shards.

One optimizer step consumes a *step batch* of ``batch * accumulate * processes`` images (the global
batch). An epoch's shuffled order is cut into ``ceil(n / global batch)`` step batches of near-equal
size (see :func:`step_batches`); each step batch is cut into one contiguous share per process and
each share into ``accumulate`` micro-batches (:func:`micro_positions`). Every process holds the whole
(small) dataset in memory and draws the same epoch order and augmentation from the same seeded
generator, so sharding needs no sampler and no communication: a process simply takes its share.

The loss of a micro-batch is weighted so that the gradient of a step is exactly the mean over its
step batch, whatever the share sizes (:func:`micro_weight`): ``accelerator.backward`` divides by
``accumulate`` and DDP averages over processes, so a micro-batch of m images in a step batch of
M contributes ``mean loss * m * processes * accumulate / M``. With one process and ``accumulate`` 1
the weight is exactly 1 and the loop is the plain loop of before (same batches, same draws).
"""

from __future__ import annotations

from contextlib import nullcontext
from typing import Any

import numpy as np

from wood.errors import DataError
from wood.finetune.classify.data import SplitData, apply_augment, augment_draws, epoch_order, normalize, to_unit
from wood.finetune.classify.models import set_train_mode

LOGIT_ADJUST_TAU = 1.0


def step_batches(order, batch: int, accumulate: int = 1, processes: int = 1) -> list:
    """Cut an epoch's indices into ceil(n / (batch * accumulate * processes)) step batches of near-equal
    size (19 with a global batch of 16 gives 10 + 9, not 16 + 3): a tiny trailing batch gives BatchNorm
    very noisy statistics, and a batch of one image cannot train once the feature map is 1 x 1."""
    return list(order.tensor_split(max(1, -(-len(order) // (batch * accumulate * processes)))))


def micro_positions(n: int, accumulate: int, processes: int, rank: int) -> list:
    """Positions (into a step batch of ``n`` images) of this process's ``accumulate`` micro-batches:
    the step batch is split into ``processes`` contiguous near-equal shares (wood.finetune.engine.shard),
    each share into ``accumulate`` near-equal micro-batches."""
    import torch

    from wood.finetune.engine import shard

    share = torch.tensor(shard(range(n), rank, processes), dtype=torch.int64)
    return list(share.tensor_split(accumulate))


def micro_weight(micro: int, step: int, accumulate: int, processes: int) -> float:
    """Factor on a micro-batch's mean loss so the step's gradient is the mean over its ``step`` images
    (see the module docstring); exactly 1.0 when micro * accumulate * processes == step."""
    return micro * accumulate * processes / step


def check_shardable(n_train: int, accumulate: int, processes: int) -> int:
    """The smallest micro-batch an epoch will have; DataError when some micro-batch would be empty
    (fewer training images than ``accumulate * processes``)."""
    if n_train < accumulate * processes:
        raise DataError(
            f"{n_train} training images cannot fill {accumulate} micro-batches on each of {processes} processes; "
            "lower --accumulate or the number of processes"
        )
    return n_train // (accumulate * processes)


def train_epoch(accelerator, model, optimizer, raw_model, data: SplitData, cfg, phase, generator, log_prior) -> float:
    """One epoch of ``phase`` on this process's shares; returns the mean training loss over all
    processes' images. ``model`` and ``optimizer`` come from ``accelerator.prepare``; ``raw_model`` is
    the module inside ``model`` (a frozen backbone is kept in eval mode on it)."""
    import torch
    import torch.nn.functional as F

    set_train_mode(raw_model, phase.head_only, phase.frozen_bn)
    world, rank, accumulate = accelerator.num_processes, accelerator.process_index, cfg.accumulate
    device = accelerator.device
    num_classes = log_prior.shape[0]
    total = torch.zeros(2, dtype=torch.float64, device=device)  # (sum of loss * images, images)
    order = epoch_order(data.labels, num_classes, cfg.balance, generator)
    for step in step_batches(order, cfg.batch, accumulate, world):
        draws = augment_draws(len(step), generator) if cfg.augment else None
        micros = micro_positions(len(step), accumulate, world, rank)
        for i, pos in enumerate(micros):
            idx = step[pos]
            x = to_unit(data.images[idx], device)
            if draws is not None:
                x = apply_augment(x, draws[0][pos], draws[1][pos])
            y = data.labels[idx].to(device)
            last = i == len(micros) - 1
            with nullcontext() if last else accelerator.no_sync(model):
                logits = model(normalize(x))
                if cfg.balance == "loss":
                    logits = logits + LOGIT_ADJUST_TAU * log_prior
                loss = F.cross_entropy(logits.float(), y)
                weight = micro_weight(len(idx), len(step), accumulate, world)
                accelerator.backward(loss * weight if weight != 1.0 else loss)
            total += torch.tensor([float(loss.detach()) * len(idx), len(idx)], dtype=torch.float64, device=device)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    if world > 1:
        total = accelerator.reduce(total, reduction="sum")
    loss_sum, seen = total.tolist()
    if not np.isfinite(loss_sum):
        raise DataError(f"training diverged (loss {loss_sum}) in phase {phase.name}; lower --lr", cfg.data)
    return loss_sum / max(seen, 1)


def phase_record(phase, raw_model) -> dict[str, Any]:
    """metrics.json's entry of one phase."""
    from wood.torchutil import count_params

    return {
        "name": phase.name,
        "epochs": phase.epochs,
        "lr": phase.lr,
        "head_only": phase.head_only,
        "frozen_bn": phase.frozen_bn,
        "trainable_params": count_params(raw_model, trainable_only=True),
        "total_params": count_params(raw_model),
    }
