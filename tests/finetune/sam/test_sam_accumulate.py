"""Gradient accumulation in SAM training: every optimizer update is the mean over its own micro-batches.

The loss is replaced by one trainable weight (its gradient is 1 per image), so an update's
gradient says how it was scaled: 1.0 is a mean, less means a group divided by more micro-batches
than it had.
"""

from __future__ import annotations

import pytest
from _sam_fixtures import make_prep_dataset

from wood.finetune.sam.config import SamTrainConfig
from wood.finetune.sam.data import load_split
from wood.finetune.sam.models import load_sam
from wood.finetune.sam.train import SamTrainer, train

SIZE = 64


@pytest.fixture()
def unit_gradients(monkeypatch):
    """SamTrainer with a loss of d(loss)/dw = 1 per image; returns the gradient seen by each update."""
    seen: list[float] = []
    step = SamTrainer.optimizer_step

    def batch_losses(self, batch, rng, grad):
        w = self.params[0].view(-1)[0]
        return [w * 1.0 for _ in batch]

    def optimizer_step(self):
        seen.append(float(self.params[0].grad.view(-1)[0]))
        step(self)

    monkeypatch.setattr(SamTrainer, "batch_losses", batch_losses)
    monkeypatch.setattr(SamTrainer, "optimizer_step", optimizer_step)
    return seen


def _cfg(prep, tmp_path, **kw):
    base = dict(
        data=str(prep),
        model="tiny",
        imgsz=SIZE,
        adapter="decoder",
        warmup_steps=0,
        out=str(tmp_path / "runs"),
        device="cpu",
        val_split="none",
        epochs=1,
        batch=1,
        accumulate=4,
    )
    return SamTrainConfig(**(base | kw))


def test_last_partial_accumulation_group_is_divided_by_its_own_size(tmp_path, unit_gradients):
    """6 images, batch 1, --accumulate 4: updates of 4 and then 2 micro-batches. The last one used
    to be divided by 4 as well (gradient 0.5: half a step); now each update is a mean (1.0)."""
    prep = make_prep_dataset(tmp_path / "prep", size=SIZE, counts={"train": (2, 0)})
    train(_cfg(prep, tmp_path))
    assert unit_gradients == [pytest.approx(1.0), pytest.approx(1.0)]


def test_a_single_image_step_is_not_divided_by_accumulate(tmp_path, unit_gradients):
    """train_step is one full update: the same gradient scale as the last (partial) group above."""
    prep = make_prep_dataset(tmp_path / "prep", size=SIZE, counts={"train": (1, 0)})
    cfg = _cfg(prep, tmp_path)
    sam, _ = load_sam("tiny", image_size=SIZE)
    trainer = SamTrainer(cfg, sam, "cpu", total_updates=4)
    images = load_split(prep, "train")[0]
    trainer.train_step(images[:1])
    trainer.train_step(images[:2])
    assert unit_gradients == [pytest.approx(1.0), pytest.approx(1.0)]
