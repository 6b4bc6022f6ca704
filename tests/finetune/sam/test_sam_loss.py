"""finetune/sam/loss.py on hand-made tensors: focal, dice and hard IoU to the value worked out by hand, the
20:1:1 total, and the true IoU detached (only the predicted IoU gets its MSE gradient)."""

from __future__ import annotations

import math

import pytest
import torch

from wood.finetune.sam.loss import dice_loss, focal_loss, hard_iou, sam_loss

# one 2x2 mask with one foreground pixel; logits 0 everywhere: p = 0.5, BCE = ln 2, (1 - p_t)^2 = 1/4
TARGET = torch.tensor([[[1.0, 0.0], [0.0, 0.0]]])
ZERO = torch.zeros(1, 2, 2)
LN2 = math.log(2)


def test_focal_loss_at_zero_logits_by_hand():
    # alpha 0.25 on the foreground pixel, 0.75 on the three background ones: (0.25 + 3 * 0.75) / 4 * ln2 / 4
    assert focal_loss(ZERO, TARGET).item() == pytest.approx(0.15625 * LN2, abs=1e-7)
    assert focal_loss(ZERO, TARGET, alpha=-1).item() == pytest.approx(0.25 * LN2, abs=1e-7)  # no alpha weighting
    assert focal_loss(ZERO, TARGET, gamma=0.0).item() == pytest.approx(0.625 * LN2, abs=1e-7)  # weighted BCE


def test_focal_loss_means_over_pixels_then_masks():
    # mask 1: the case above; mask 2: confident and right (logit +-30): its loss is ~0
    good = torch.tensor([[[30.0, -30.0], [-30.0, -30.0]]])
    both = focal_loss(torch.cat([ZERO, good]), torch.cat([TARGET, TARGET]))
    assert both.item() == pytest.approx(0.15625 * LN2 / 2, abs=1e-7)


def test_dice_loss_by_hand():
    # soft dice with eps 1: sum p = 2, sum t = 1, intersection 0.5 -> 1 - (2 * 0.5 + 1) / (2 + 1 + 1) = 0.5
    assert dice_loss(ZERO, TARGET).item() == pytest.approx(0.5, abs=1e-7)
    perfect = torch.tensor([[[30.0, -30.0], [-30.0, -30.0]]])
    assert dice_loss(perfect, TARGET).item() == pytest.approx(0.0, abs=1e-6)
    wrong = -perfect  # p = 1 where t = 0 (3 pixels), 0 on the foreground: 1 - 1 / (3 + 1 + 1)
    assert dice_loss(wrong, TARGET).item() == pytest.approx(0.8, abs=1e-6)


def test_hard_iou_per_mask_and_empty_against_empty_is_one():
    logits = torch.tensor(
        [
            [[1.0, 1.0], [-1.0, -1.0]],  # top row predicted; target top-left: IoU 1/2
            [[-1.0, -1.0], [-1.0, -1.0]],  # nothing predicted, nothing there: 1
            [[-1.0, -1.0], [-1.0, 0.0]],  # logit 0 is not foreground: 0 of 1
        ]
    )
    target = torch.tensor([[[1.0, 0.0], [0.0, 0.0]], [[0.0, 0.0], [0.0, 0.0]], [[0.0, 0.0], [0.0, 1.0]]])
    assert hard_iou(logits, target).tolist() == [0.5, 1.0, 0.0]


def test_sam_loss_total_is_20_focal_plus_dice_plus_iou_mse():
    logits = torch.zeros(1, 1, 2, 2, requires_grad=True)  # (N, 1, H, W) as the decoder gives
    iou_pred = torch.tensor([[0.5]], requires_grad=True)
    parts = sam_loss(logits, iou_pred, TARGET.bool())
    # true IoU 0 (nothing predicted), so MSE = 0.5^2
    assert (parts.focal, parts.dice, parts.iou_mse, parts.iou) == pytest.approx((0.15625 * LN2, 0.5, 0.25, 0.0))
    assert parts.total.item() == pytest.approx(20 * 0.15625 * LN2 + 0.5 + 0.25, abs=1e-6)
    parts.total.backward()
    assert iou_pred.grad.item() == pytest.approx(2 * 0.5)  # d/dx (x - 0)^2 at 0.5
    # the foreground pixel pulls its logit up, the background ones down
    grad = logits.grad.reshape(2, 2)
    assert grad[0, 0] < 0 and bool((grad.flatten()[1:] > 0).all())
