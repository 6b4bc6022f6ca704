"""Fixtures for the YOLO tests: a private wood cache, a network guard, hand-built COCO cases."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest


class NetworkAttempt(AssertionError):
    """Raised when code under test tries DNS or a socket connection."""


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Fail on any DNS lookup or socket connect (pytest-socket blocks socket creation, not DNS)."""
    attempts: list[str] = []

    def refuse(name: str):
        def _refuse(*args, **kwargs):
            attempts.append(f"{name}{args[:2]}")
            raise NetworkAttempt(f"network attempt: {name}{args[:2]}")

        return _refuse

    monkeypatch.setattr(socket, "getaddrinfo", refuse("getaddrinfo"))
    monkeypatch.setattr(socket, "gethostbyname", refuse("gethostbyname"))
    monkeypatch.setattr(socket, "create_connection", refuse("create_connection"))
    return attempts


@pytest.fixture
def wood_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private WOOD_HOME (Ultralytics config dir, weights dir) so tests never write ~/.cache/wood."""
    home = tmp_path_factory.getbasetemp() / "wood-home"
    monkeypatch.setenv("WOOD_HOME", str(home))
    monkeypatch.delenv("WOOD_WEIGHTS", raising=False)
    return home


def box_gt(boxes_per_image: list[list[tuple[int, list[float]]]], names: list[str]) -> dict:
    """COCO ground truth from ``[[(category_id, [x, y, w, h]), ...] per image]`` (ids from 1)."""
    images, anns = [], []
    for i, boxes in enumerate(boxes_per_image, 1):
        images.append({"id": i, "file_name": f"{i}.png", "width": 100, "height": 100})
        for cat, bbox in boxes:
            anns.append(
                {
                    "id": len(anns) + 1,
                    "image_id": i,
                    "category_id": cat,
                    "bbox": list(bbox),
                    "area": bbox[2] * bbox[3],
                    "iscrowd": 0,
                }
            )
    return {
        "images": images,
        "annotations": anns,
        "categories": [{"id": k + 1, "name": n} for k, n in enumerate(names)],
    }


def det(image_id: int, cat: int, bbox: list[float], score: float) -> dict:
    return {"image_id": image_id, "category_id": cat, "bbox": list(bbox), "score": score}


def tiny_cfg(prepared: Path, out: Path, **kw):
    """A 1-epoch yolov8n.yaml YoloConfig at 64 px on CPU (``kw`` overrides fields)."""
    from wood.finetune.yolo.config import YoloConfig

    base = dict(
        data=prepared,
        model="yolov8n.yaml",
        epochs=1,
        imgsz=64,
        batch=4,
        device="cpu",
        workers=0,
        out=out,
        plots=False,
        seed=0,
    )
    return YoloConfig(**{**base, **kw})
