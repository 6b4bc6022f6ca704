"""SAM's training loss: focal + dice at 20:1 (SAM paper, section 3) plus MSE on the predicted IoU.

All terms are computed on mask logits at the ORIGINAL image resolution, one mask per prompt.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

FOCAL_WEIGHT = 20.0
DICE_WEIGHT = 1.0
IOU_WEIGHT = 1.0


def focal_loss(logits: torch.Tensor, target: torch.Tensor, alpha: float = 0.25, gamma: float = 2.0) -> torch.Tensor:
    """Sigmoid focal loss (Lin et al. 2017), mean over pixels then over masks. Shapes (N, H, W)."""
    prob = logits.sigmoid()
    ce = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
    p_t = prob * target + (1 - prob) * (1 - target)
    loss = ce * (1 - p_t) ** gamma
    if alpha >= 0:
        loss = (alpha * target + (1 - alpha) * (1 - target)) * loss
    return loss.flatten(1).mean(1).mean()


def dice_loss(logits: torch.Tensor, target: torch.Tensor, eps: float = 1.0) -> torch.Tensor:
    """1 - soft dice per mask, averaged over masks. Shapes (N, H, W)."""
    prob = logits.sigmoid().flatten(1)
    target = target.flatten(1)
    inter = (prob * target).sum(1)
    return (1 - (2 * inter + eps) / (prob.sum(1) + target.sum(1) + eps)).mean()


def hard_iou(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """IoU of (logits > 0) with the binary target, per mask (N,). Empty vs empty counts as 1."""
    pred = logits > 0
    gt = target > 0.5
    inter = (pred & gt).flatten(1).sum(1).float()
    union = (pred | gt).flatten(1).sum(1).float()
    return torch.where(union > 0, inter / union.clamp(min=1), torch.ones_like(union))


@dataclass
class LossParts:
    total: torch.Tensor
    focal: float
    dice: float
    iou_mse: float
    iou: float


def sam_loss(logits: torch.Tensor, iou_pred: torch.Tensor, target: torch.Tensor) -> LossParts:
    """``logits`` (N, 1, H, W) or (N, H, W), ``iou_pred`` (N, 1) or (N,), ``target`` bool/float (N, H, W).

    total = 20 * focal + 1 * dice + 1 * MSE(iou_pred, IoU(pred, target)); the true IoU is detached.
    """
    logits = logits.reshape(target.shape)
    target = target.float()
    focal = focal_loss(logits, target)
    dice = dice_loss(logits, target)
    with torch.no_grad():
        true_iou = hard_iou(logits, target)
    iou_mse = F.mse_loss(iou_pred.reshape(-1), true_iou)
    total = FOCAL_WEIGHT * focal + DICE_WEIGHT * dice + IOU_WEIGHT * iou_mse
    parts = (float(focal.detach()), float(dice.detach()), float(iou_mse.detach()), float(true_iou.mean()))
    return LossParts(total, *parts)
