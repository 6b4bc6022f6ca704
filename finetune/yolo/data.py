"""The prepared dataset as YOLO sees it: checks of a `wood prep` folder and the run's data.yaml."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from wood.console import console
from wood.errors import DataError
from wood.finetune.yolo.config import YoloConfig
from wood.fsutil import link_or_copy
from wood.prep.dataset import PreparedDataset
from wood.prep.mvtec import IMAGE_EXTENSIONS


def read_prep_data_yaml(prep_dir: Path, subdir: str) -> dict[str, Any]:
    """Read ``<prep_dir>/<subdir>/data.yaml``; names become a list in class-id order."""
    prep_dir = Path(prep_dir)
    if not prep_dir.is_dir():
        raise DataError("prepared dataset folder does not exist (run `wood prep` first)", prep_dir)
    path = prep_dir / subdir / "data.yaml"
    if not path.is_file():
        raise DataError(f"no {subdir}/data.yaml: not a `wood prep` output folder", prep_dir)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise DataError(f"not valid YAML ({exc.__class__.__name__})", path) from exc
    if not isinstance(data, dict) or "names" not in data:
        raise DataError("data.yaml has no `names`", path)
    names = data["names"]
    if isinstance(names, dict):
        try:
            names = [names[i] for i in range(len(names))]
        except KeyError as exc:
            raise DataError(f"names must have ids 0..{len(names) - 1}, but got {sorted(names)}", path) from exc
    if not isinstance(names, list) or not names:
        raise DataError("names must be a non-empty list or {id: name} mapping", path)
    data["names"] = [str(n) for n in names]
    return data


def check_prep_folder(prep_dir: Path, subdir: str) -> dict[str, Any]:
    """Check a `wood prep` output before any run folder exists; return its ``subdir/data.yaml``.

    Needs a manifest.json of format ``wood-prep/1`` (wood.prep.dataset.PreparedDataset.open), ``subdir/data.yaml``
    and, for train and val, ``subdir/images/<split>/`` with at least one image and ``subdir/labels/<split>/`` with
    label files. Each problem is one DataError naming the missing or wrong file or folder.
    """
    prep_dir = Path(prep_dir)
    PreparedDataset.open(prep_dir)
    data = read_prep_data_yaml(prep_dir, subdir)
    root = prep_dir / subdir
    for split in ("train", "val"):
        images, labels = root / "images" / split, root / "labels" / split
        if not images.is_dir():
            raise DataError("image folder is missing (Ultralytics needs train and val); re-run `wood prep`", images)
        if not any(f.suffix.lower() in IMAGE_EXTENSIONS for f in images.iterdir()):
            raise DataError(
                f"no images in the {split} split (Ultralytics needs train and val images); "
                "re-run `wood prep` with more images or another --val-fraction",
                images,
            )
        if not labels.is_dir():
            raise DataError("label folder is missing; re-run `wood prep`", labels)
        if not any(f.suffix == ".txt" for f in labels.iterdir()):
            raise DataError("label folder has no .txt label files; re-run `wood prep`", labels)
    return data


def write_run_data_yaml(cfg: YoloConfig, run_dir: Path) -> tuple[Path, dict[str, Any]]:
    """Write ``run_dir/data.yaml`` for Ultralytics, with no ``path:`` key, and the split folders it names.

    The run folder gets its own ``images/<split>/`` and ``labels/<split>/`` of links to the prep's
    files (`link_splits`), and data.yaml names them relative to its folder (``images/train``...).
    Ultralytics writes its label cache beside the labels folder (``labels/<split>.cache``) and
    YOLO-World its text-embedding cache beside the train images: both land in the run folder, never
    in the prepared folder. With ``--balance`` the train split is ``train_list.txt`` (run folder),
    whose lines are ``./images/train/<name>``: Ultralytics resolves a leading ``./`` against the
    list's folder.
    """
    root = (cfg.data / cfg.data_subdir).resolve()
    data = read_prep_data_yaml(cfg.data, cfg.data_subdir)
    splits = [s for s in ("train", "val", "test") if (root / "images" / s).is_dir()]
    for split in ("train", "val"):
        if split not in splits:
            raise DataError(f"no images/{split} folder: Ultralytics needs train and val", root)
    link_splits(root, run_dir, splits)
    entries: dict[str, str] = {s: f"images/{s}" for s in splits}
    summary: dict[str, Any] = {}
    if cfg.balance:
        from wood.finetune.yolo.balance import write_balanced_list

        summary = write_balanced_list(
            run_dir / "images" / "train",
            run_dir / "labels" / "train",
            run_dir / "train_list.txt",
            cfg.balance_max_repeat,
        )
        entries["train"] = "train_list.txt"
        reps = {data["names"][c]: r for c, r in summary["class_repeat"].items() if c < len(data["names"])}
        console.print(f"balance: {summary['images']} -> {summary['images_balanced']} train images; repeats {reps}")
        summary = {**summary, "class_repeat": reps}
    path = write_data_yaml(run_dir / "data.yaml", entries, data["names"])
    return path, {"names": data["names"], "balance": summary}


def write_linked_data_yaml(root: Path, names: list[str], path: Path, keys: dict[str, str]) -> Path:
    """Write ``path``, an Ultralytics data.yaml with no ``path:`` key whose ``keys`` (e.g. train, val:
    the data.yaml key -> a split of ``root``, a prep's yolo/ or yolo-seg/ folder) name split folders
    linked beside it (`link_splits`). For any Ultralytics call on a prep (``model.val`` in an eval
    folder): its label caches then land beside ``path``, not in the prepared folder."""
    link_splits(root, path.parent, sorted(set(keys.values())))
    return write_data_yaml(path, {k: f"images/{s}" for k, s in keys.items()}, names)


def write_data_yaml(path: Path, entries: dict[str, str], names: list[str]) -> Path:
    """``path`` holding ``entries`` (relative to its folder) and ``names``; no ``path:`` key."""
    path.write_text(yaml.safe_dump({**entries, "names": dict(enumerate(names))}, sort_keys=False), encoding="utf-8")
    return path


def link_splits(root: Path, run_dir: Path, splits: list[str]) -> None:
    """``run_dir/{images,labels}/<split>/``: a symbolic link (absolute; a hard link or copy where the file
    system has none) per image and ``.txt`` label of ``root`` (a prep's yolo/ or yolo-seg/ folder).
    Anything else there (an old Ultralytics ``.cache``) is not linked."""
    for split in splits:
        for kind, keep in (("images", lambda f: f.suffix.lower() in IMAGE_EXTENSIONS), ("labels", _is_label)):
            src, dst = root / kind / split, run_dir / kind / split
            dst.mkdir(parents=True, exist_ok=True)
            if not src.is_dir():
                continue
            for f in sorted(src.iterdir()):
                if f.is_file() and keep(f) and not os.path.lexists(dst / f.name):  # linked by an earlier call
                    try:
                        (dst / f.name).symlink_to(f.resolve())
                    except OSError:
                        link_or_copy(f, dst / f.name)


def _is_label(path: Path) -> bool:
    return path.suffix == ".txt"


def tiled_imgsz_warning(tiling: dict[str, Any] | None, imgsz: int) -> str | None:
    """A one-line warning when a tiled prep (``tiling``: manifest.json's ``tile`` record) is trained at an
    ``imgsz`` other than its tile size: a larger one enlarges every tile (and costs its square in compute), a
    smaller one shrinks away the small defects tiling is for. None when untiled or matching."""
    size = tiling.get("size") if tiling else None
    if not isinstance(size, int) or size == imgsz:
        return None
    return (
        f"warning: this prep holds {size}x{size} tiles but --imgsz is {imgsz}; train tiles at their native "
        f"size with --imgsz {size} (and predict full images with --slice {size})"
    )
