"""Training, saving, loading and merging tiny SAM runs (offline, CPU, hand-made data)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from _sam_fixtures import make_prep_dataset

from wood.config import write_config
from wood.errors import ConfigError, MisMatchError
from wood.finetune.sam.adapters import apply_adapters, format_report, trainable_report
from wood.finetune.sam.config import SamTrainConfig
from wood.finetune.sam.data import build_prompts, flip_sample, jitter_boxes, load_split, sample_points, to_model_frame
from wood.finetune.sam.io import export_merged, load_run, merged_state_dict, save_base, save_weights
from wood.finetune.sam.models import build_sam, decode_masks, load_sam
from wood.finetune.sam.train import SamTrainer, train

SIZE = 64  # tiny model input (px)


@pytest.fixture(scope="session")
def prep(tmp_path_factory):
    return make_prep_dataset(
        tmp_path_factory.mktemp("sam") / "prep", size=96, counts={"train": (2, 0), "val": (1, 0), "test": (1, 1)}
    )


def _cfg(prep, tmp_path, **kw):
    base = dict(
        data=str(prep),
        model="tiny",
        imgsz=SIZE,
        lr=3e-3,
        warmup_steps=0,
        box_jitter=0.0,
        out=str(tmp_path / "runs"),
        device="cpu",
        val_split="none",
    )
    return SamTrainConfig(**(base | kw))


def test_coco_split_boxes_points_and_jitter(prep):
    images, cats = load_split(prep, "test")
    assert cats == {1: "color", 2: "hole", 3: "scratch"}
    good = [im for im in images if not im.instances]
    assert len(images) == 4 and len(good) == 1
    inst = images[0].instances[0]
    ys, xs = np.nonzero(inst.mask)
    assert inst.bbox_xyxy.tolist() == [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]
    boxes = build_prompts([inst], (96, 96), SIZE, "box")["boxes"]
    np.testing.assert_allclose(boxes[0], inst.bbox_xyxy * SIZE / 96, rtol=1e-6)
    pts = sample_points(inst.mask, 3, None)
    assert all(inst.mask[int(y), int(x)] for x, y in pts)
    rng = np.random.default_rng(0)
    jittered = jitter_boxes(inst.bbox_xyxy[None], (96, 96), 0.1, rng)[0]
    assert not np.allclose(jittered, inst.bbox_xyxy) and np.all(
        np.abs(jittered - inst.bbox_xyxy) <= 20 * 96 / 1024 + 1e-4
    )
    assert to_model_frame(np.array([[96.0, 48.0]]), (96, 192), 64).tolist() == [[32.0, 16.0]]
    resized = np.arange(4 * 4 * 3, dtype=np.uint8).reshape(4, 4, 3)
    flipped_rgb, (flipped,) = flip_sample(resized, [inst], (96, 96), horizontal=True, vertical=True)
    assert np.array_equal(flipped_rgb, resized[::-1, ::-1])
    ys, xs = np.nonzero(flipped.mask)
    assert flipped.bbox_xyxy.tolist() == [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]


@pytest.mark.slow
@pytest.mark.parametrize(
    "mode,prompt", [("lora", "box"), ("adapter", "box"), ("decoder", "box"), ("decoder", "points")]
)
def test_each_mode_trains_two_steps_with_falling_loss(prep, tmp_path, mode, prompt):
    torch.manual_seed(0)
    cfg = _cfg(prep, tmp_path, adapter=mode, prompt=prompt, n_points=2)
    sam, _ = load_sam("tiny", image_size=SIZE)
    apply_adapters(sam, cfg.adapter_settings())
    report = trainable_report(sam)
    print(format_report(report, mode))
    assert 0 < report["trainable_fraction"] < 1
    trainer = SamTrainer(cfg, sam, "cpu", total_updates=10)
    images = [im for im in load_split(prep, "train")[0] if im.instances][:2]
    before = trainer.loss_on(images)
    frozen = {n: p.detach().clone() for n, p in sam.named_parameters() if not p.requires_grad}
    trainer.train_step(images)
    trainer.train_step(images)
    after = trainer.loss_on(images)
    print(f"{mode}: loss {before:.4f} -> {after:.4f}")
    assert after < before
    assert all(torch.equal(p, frozen[n]) for n, p in sam.named_parameters() if n in frozen)


def _outputs(sam, image, device="cpu"):
    from wood.finetune.sam.data import image_tensor, resize_image
    from wood.imageio import read_image_rgb

    small = resize_image(read_image_rgb(image.path), sam.image_encoder.img_size)
    boxes = torch.from_numpy(
        build_prompts(image.instances, image.original_size, sam.image_encoder.img_size, "box")["boxes"]
    )
    with torch.no_grad():
        emb = sam.image_encoder(image_tensor(sam, small, device))
        return decode_masks(sam, emb, small.shape[:2], image.original_size, boxes_xyxy=boxes)


@pytest.mark.slow
@pytest.mark.parametrize("mode,lora_decoder", [("lora", False), ("lora", True), ("adapter", False), ("decoder", False)])
def test_save_load_merge_round_trip(prep, tmp_path, mode, lora_decoder):
    torch.manual_seed(1)
    cfg = _cfg(prep, tmp_path, adapter=mode, lora_decoder=lora_decoder, train_prompt_encoder=(mode == "decoder"))
    run = tmp_path / "run"
    run.mkdir()
    sam, _ = load_sam("tiny", image_size=SIZE)
    save_base(sam, run / "weights")
    peft_model = apply_adapters(sam, cfg.adapter_settings())
    images = [im for im in load_split(prep, "train")[0] if im.instances]
    trainer = SamTrainer(cfg, sam, "cpu", total_updates=10)
    for _ in range(2):
        trainer.train_step(images[:2])
    with torch.no_grad():  # make LoRA B / adapter up non-zero so the round trip is not trivial
        for n, p in sam.named_parameters():
            if "lora_B" in n or ".adapter.up" in n:
                p.add_(0.01 * torch.randn_like(p))
    sam.eval()
    write_config(cfg, run / "config.yaml")
    save_weights(sam, peft_model, cfg, run / "weights")
    image = images[0]
    ref_logits, ref_iou = _outputs(sam, image)

    loaded, _ = load_run(run)
    logits, iou = _outputs(loaded, image)
    torch.testing.assert_close(logits, ref_logits, rtol=0, atol=1e-5)
    torch.testing.assert_close(iou, ref_iou, rtol=0, atol=1e-6)

    if mode == "adapter":
        with pytest.raises(ConfigError, match="cannot be merged"):
            merged_state_dict(run)
        return
    path = export_merged(run)
    plain = build_sam("tiny", SIZE)  # plain segment-anything classes, no peft, no adapters
    plain.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    logits, iou = _outputs(plain.eval(), image)
    torch.testing.assert_close(logits, ref_logits, rtol=1e-4, atol=1e-4)


@pytest.mark.slow
def test_train_run_folder_resume_and_merge(prep, tmp_path):
    cfg = _cfg(prep, tmp_path, adapter="lora", epochs=1, val_split="val", merge=True, name="r")
    run = train(cfg)
    assert run.name == "r"
    files = {p.name for p in (run / "weights").iterdir()}
    assert {
        "adapter_model.safetensors",
        "adapter_config.json",
        "mask_decoder.safetensors",
        "base_model.safetensors",
        "sam_merged.pth",
    } <= files
    metrics = json.loads((run / "metrics.json").read_text())
    assert len(metrics["history"]) == 1 and "val_instance_iou" in metrics["history"][0]
    assert (metrics["kind"], metrics["schema"]) == ("sam", 1)
    assert metrics["params"]["encoder_added_trainable"] > 0

    again = train(_cfg(prep, tmp_path, adapter="lora", epochs=2, val_split="val", name="r", resume=True))
    assert again == run
    metrics = json.loads((run / "metrics.json").read_text())
    assert [h["epoch"] for h in metrics["history"]] == [1, 2]
    assert metrics["history"][1]["updates"] == 2 * metrics["history"][0]["updates"]

    assert train(_cfg(prep, tmp_path, adapter="lora", epochs=1, max_steps=1, name="r")).name == "r-2"  # never mixes
    with pytest.raises(MisMatchError, match="adapter"):
        train(_cfg(prep, tmp_path, adapter="decoder", epochs=3, name="r", resume=True))


@pytest.mark.slow
def test_patch_size_and_box_mask_prompt_survive_the_run_folder(prep, tmp_path):
    from wood.finetune.sam.data import image_tensor, resize_image
    from wood.imageio import read_image_rgb

    torch.manual_seed(0)
    run = train(
        _cfg(
            prep,
            tmp_path,
            adapter="lora",
            epochs=1,
            max_steps=2,
            patch_size=8,
            box_mask_prompt=True,
            threads=1,
            name="bm",
        )
    )
    loaded, cfg = load_run(run)
    assert cfg.patch_size == 8 and cfg.box_mask_prompt and torch.get_num_threads() == 1
    assert loaded.image_encoder.patch_embed.proj.kernel_size == (8, 8)
    image = [im for im in load_split(prep, "test")[0] if im.instances][0]
    small = resize_image(read_image_rgb(image.path), SIZE)
    boxes = torch.from_numpy(build_prompts(image.instances, image.original_size, SIZE, "box")["boxes"])
    with torch.no_grad():
        emb = loaded.image_encoder(image_tensor(loaded, small, "cpu"))
        with_mask, _ = decode_masks(loaded, emb, small.shape[:2], image.original_size, boxes_xyxy=boxes, box_mask=True)
        without, _ = decode_masks(loaded, emb, small.shape[:2], image.original_size, boxes_xyxy=boxes)
    assert not torch.allclose(with_mask, without)  # the run's decoder sees the box mask only when asked
