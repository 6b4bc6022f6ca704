"""Predictions of a classifier held in memory, and BatchNorm recalibration ("precise BN")."""

from __future__ import annotations

import numpy as np

from wood.finetune.classify.data import SplitData, normalize, to_unit


def batches(order, batch: int) -> list:
    """Split an epoch's indices into ceil(n / batch) batches of near-equal size (19 with batch 16
    gives 10 + 9, not 16 + 3): a tiny trailing batch gives BatchNorm very noisy statistics, and a
    batch of one image cannot train once the feature map is 1 x 1."""
    return list(order.tensor_split(max(1, -(-len(order) // batch))))


def recalibrate_batchnorm(model, images_uint8, device, batch: int) -> int:
    """Recompute BatchNorm running statistics as the plain average over the (un-augmented) training
    batches, with the weights fixed ("precise BN"). The running averages kept during training
    (momentum 0.1, a few dozen steps while the weights still move) drift from what the final weights
    produce: measured on 36 warped real wood images, a from-scratch ResNet18 scored 47% on its own training
    images in eval mode and 95% with batch statistics; after recalibration 84%.
    Returns the number of BatchNorm layers recalibrated."""
    import torch
    from torch import nn

    layers = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not layers or len(images_uint8) < 2:
        return 0
    momenta = [m.momentum for m in layers]
    for m in layers:
        m.reset_running_stats()
        m.momentum = None  # cumulative average over the batches below
    model.train()
    with torch.no_grad():
        for idx in batches(torch.arange(len(images_uint8)), batch):
            model(normalize(to_unit(images_uint8[idx], device)))
    for m, momentum in zip(layers, momenta, strict=True):
        m.momentum = momentum
    model.eval()
    return len(layers)


def predict(model, images_uint8, device, batch: int = 64) -> np.ndarray:
    """Predicted class indices (N,) for uint8 images (N, 3, S, S)."""
    import torch

    model.eval()
    out = []
    with torch.no_grad():
        for start in range(0, len(images_uint8), batch):
            x = normalize(to_unit(images_uint8[start : start + batch], device))
            out.append(model(x).argmax(1).cpu())
    return torch.cat(out).numpy() if out else np.zeros((0,), dtype=np.int64)


def accuracy_on(model, data: SplitData, device) -> float:
    return float((predict(model, data.images, device) == data.labels.numpy()).mean())
