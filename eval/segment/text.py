"""eval segment's result as console text (pure: the summary dict in, str out)."""

from __future__ import annotations

from typing import Any


def _fmt(value: Any) -> str:
    return "-" if value is None else f"{value:.4f}"


def format_summary(s: dict[str, Any]) -> str:
    """A few lines for the console: per-class IoU/Dice, mIoU, pixel F1, segm mAP."""
    lines = [f"{'class':<12} {'IoU':>8} {'Dice':>8} {'inst IoU':>9}"]
    for name, v in s["per_class"].items():
        lines.append(f"{name:<12} {_fmt(v['iou']):>8} {_fmt(v['dice']):>8} {_fmt(v['instance_iou']):>9}")
    lines.append(
        f"mIoU {_fmt(s['mIoU'])}  mDice {_fmt(s['mDice'])}  instance mIoU {_fmt(s['instance_mIoU'])}  "
        f"pixel F1 {_fmt(s['pixel']['f1'])} "
        f"(good images with false alarms: {s['pixel']['good_images_with_false_alarm']}/"
        f"{s['pixel']['good_images']})  segm mAP50 {_fmt(s['segm']['mAP50'])} mAP50-95 {_fmt(s['segm']['mAP50-95'])}"
    )
    if s.get("map_conf") is not None:
        lines.append(f"segm mAP from detections >= {s['map_conf']}; the other scores from detections >= {s['conf']}")
    return "\n".join(lines)
