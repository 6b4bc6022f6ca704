"""`wood finetune sam` and `wood eval segment`: Segment Anything with LoRA, adapters or the decoder only.

Only typer and stdlib at import time; the work happens in wood.finetune.sam.train and
wood.eval.segment, imported inside the commands.
"""

from __future__ import annotations

from pathlib import Path

import typer


def finetune_sam(
    data: Path = typer.Option(None, "--data", help="Prepared dataset folder (output of `wood prep`)."),
    model: str = typer.Option(None, "--model", help="vit_b | vit_l | vit_h | tiny. [default: vit_b]"),
    checkpoint: Path = typer.Option(None, "--checkpoint", help="Official SAM weights .pth. [default: looked up in ./weights, ~/.cache/wood/weights]"),
    random_init: bool = typer.Option(None, "--random-init/--no-random-init", help="Allow random initialisation when no weights are found."),
    image_size: int = typer.Option(None, "--image-size", help="Input size of the tiny model (multiple of 16). [default: 256]"),
    patch_size: int = typer.Option(None, "--patch-size", help="ViT patch size of the tiny model: 4 | 8 | 16. [default: 16]"),
    adapter: str = typer.Option(None, "--adapter", help="lora | adapter | decoder. [default: lora]"),
    lora_r: int = typer.Option(None, "--lora-r", help="LoRA rank. [default: 4]"),
    lora_alpha: float = typer.Option(None, "--lora-alpha", help="LoRA alpha. [default: 4]"),
    lora_dropout: float = typer.Option(None, "--lora-dropout", help="LoRA dropout. [default: 0]"),
    lora_decoder: bool = typer.Option(None, "--lora-decoder/--no-lora-decoder", help="Also LoRA on the mask decoder's attention projections."),
    adapter_dim: int = typer.Option(None, "--adapter-dim", help="Bottleneck adapter width. [default: 32]"),
    adapter_positions: str = typer.Option(None, "--adapter-positions", help="attn,mlp | attn | mlp. [default: attn,mlp]"),
    train_prompt_encoder: bool = typer.Option(None, "--train-prompt-encoder/--no-train-prompt-encoder", help="Also train the prompt encoder."),
    prompt: str = typer.Option(None, "--prompt", help="box | points. [default: box]"),
    n_points: int = typer.Option(None, "--n-points", help="Points per instance with --prompt points. [default: 1]"),
    box_mask_prompt: bool = typer.Option(None, "--box-mask-prompt/--no-box-mask-prompt", help="Also give each box as a dense mask prompt (random-init SAM). [default: off]"),
    box_jitter: float = typer.Option(None, "--box-jitter", help="Training box noise, fraction of the side. [default: 0.1]"),
    flip: bool = typer.Option(None, "--flip/--no-flip", help="Random horizontal/vertical flips in training (lora/adapter). [default: on]"),
    max_instances: int = typer.Option(None, "--max-instances", help="Prompts per image per step. [default: 16]"),
    epochs: int = typer.Option(None, "--epochs", help="Training epochs. [default: 10]"),
    batch_size: int = typer.Option(None, "--batch-size", help="Images per step. [default: 1]"),
    accumulate: int = typer.Option(None, "--accumulate", help="Gradient accumulation steps. [default: 1]"),
    lr: float = typer.Option(None, "--lr", help="AdamW peak learning rate. [default: 1e-4]"),
    weight_decay: float = typer.Option(None, "--weight-decay", help="AdamW weight decay. [default: 0.01]"),
    warmup_steps: int = typer.Option(None, "--warmup-steps", help="Linear warmup updates, then cosine. [default: 10]"),
    max_steps: int = typer.Option(None, "--max-steps", help="Stop after this many updates."),
    embedding_cache: str = typer.Option(None, "--embedding-cache", help="Decoder mode: memory | disk | none. [default: memory]"),
    train_split: str = typer.Option(None, "--train-split", help="[default: train]"),
    val_split: str = typer.Option(None, "--val-split", help="Scored each epoch; 'none' skips. [default: val]"),
    seed: int = typer.Option(None, "--seed", help="Random seed. [default: 0]"),
    device: str = typer.Option(None, "--device", help="cpu | cuda | cuda:N | auto. [default: auto]"),
    threads: int = typer.Option(None, "--threads", help="torch CPU threads (1 is fastest for tiny on a small shared CPU). [default: torch's]"),
    out: Path = typer.Option(None, "--out", help="Folder of run folders. [default: runs/sam]"),
    name: str = typer.Option(None, "--name", help="Run folder name. [default: <model>-<adapter>, numbered if taken]"),
    resume: bool = typer.Option(None, "--resume/--no-resume", help="Continue the run --name from checkpoints/last.pt."),
    merge: bool = typer.Option(None, "--merge/--no-merge", help="Also export weights/sam_merged.pth (plain SAM state dict)."),
    config: Path = typer.Option(None, "--config", help="YAML file with any of these options (CLI wins)."),
) -> None:
    """Fine-tune Segment Anything on box (or point) prompts of a prepared dataset; writes one run folder."""
    from wood.config import build_config
    from wood.errors import ConfigError
    from wood.finetune.sam.config import SamTrainConfig
    from wood.finetune.sam.train import train

    if data is None and config is None:
        raise ConfigError("--data is required (a `wood prep` output folder), directly or in --config")
    overrides = dict(
        data=None if data is None else str(data), model=model, checkpoint=None if checkpoint is None else str(checkpoint),
        random_init=random_init, image_size=image_size, patch_size=patch_size, adapter=adapter, lora_r=lora_r, lora_alpha=lora_alpha,
        lora_dropout=lora_dropout, lora_decoder=lora_decoder, adapter_dim=adapter_dim, adapter_positions=adapter_positions,
        train_prompt_encoder=train_prompt_encoder, prompt=prompt, n_points=n_points, box_mask_prompt=box_mask_prompt, box_jitter=box_jitter, flip=flip,
        max_instances=max_instances, epochs=epochs, batch_size=batch_size, accumulate=accumulate, lr=lr,
        weight_decay=weight_decay, warmup_steps=warmup_steps, max_steps=max_steps, embedding_cache=embedding_cache,
        train_split=train_split, val_split=val_split, seed=seed, device=device, threads=threads,
        out=None if out is None else str(out), name=name, resume=resume, merge=merge,
    )
    cfg = build_config(SamTrainConfig, config, **overrides)
    run_dir = train(cfg)
    typer.echo(str(run_dir))


def eval_segment(
    run: Path = typer.Option(..., "--run", help="Run folder of `wood finetune sam`."),
    split: str = typer.Option("test", "--split", help="train | val | test."),
    boxes: str = typer.Option("gt", "--boxes", help="gt (oracle prompts) or a `wood finetune yolo` run folder (detect -> segment)."),
    conf: float = typer.Option(0.25, "--conf", help="Detector confidence threshold with --boxes <yolo run>."),
    data: Path = typer.Option(None, "--data", help="Prepared dataset folder (default: the one the run was trained on)."),
    out: Path = typer.Option(None, "--out", help="Output folder (default: <run>/eval-<split>[-yolo])."),
    overlays: int = typer.Option(2, "--overlays", help="Overlay PNGs per class (and for good images)."),
    device: str = typer.Option("auto", "--device", help="cpu | cuda | cuda:N | auto."),
    crop_to_box: bool = typer.Option(False, "--crop-to-box/--no-crop-to-box", help="Zero mask pixels outside each prompt box (+5% margin)."),
) -> None:
    """Per-class IoU/Dice, mIoU, per-image scores, COCO segm mAP and pixel F1 (good images included)."""
    from wood.eval.segment import evaluate

    result = evaluate(run, split, boxes=boxes, data=data, out=out, overlays=overlays, device=device, conf=conf, crop_to_box=crop_to_box)
    typer.echo(result["files"]["json"])


def register(app: typer.Typer, finetune_app: typer.Typer, eval_app: typer.Typer) -> None:
    finetune_app.command("sam")(finetune_sam)
    eval_app.command("segment")(eval_segment)

