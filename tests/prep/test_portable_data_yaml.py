"""data.yaml files without a `path:` key: a copied prepared folder trains on itself, and training
never writes into the prepared folder (Ultralytics' label caches land in the run folder)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from _yolo_fixtures import no_network, wood_home  # noqa: F401 - pytest fixtures

from wood.finetune.yolo.config import YoloConfig
from wood.finetune.yolo.data import write_run_data_yaml

FORMATS = ("yolo", "yolo-seg")


def _resolved(data_yaml: Path) -> dict:
    """The data.yaml as Ultralytics resolves it (offline)."""
    from wood.offline import setup_ultralytics

    setup_ultralytics()
    from ultralytics.data.utils import check_det_dataset

    return check_det_dataset(str(data_yaml))


def _snapshot(folder: Path) -> dict[str, int]:
    return {p.relative_to(folder).as_posix(): p.stat().st_mtime_ns for p in sorted(folder.rglob("*"))}


def test_prep_data_yaml_has_no_path_and_a_copy_resolves_to_itself(prepared: Path, tmp_path: Path):
    copy = tmp_path / "copy"
    shutil.copytree(prepared, copy)
    for fmt in FORMATS:
        data = yaml.safe_load((copy / fmt / "data.yaml").read_text())
        assert "path" not in data
        resolved = _resolved(copy / fmt / "data.yaml")
        for split in ("train", "val", "test"):
            assert resolved[split] == str((copy / fmt / "images" / split).resolve())


def test_paste_data_yaml_has_no_path(prepared: Path, tmp_path: Path):
    from wood.prep.paste.config import PasteConfig
    from wood.prep.paste.pipeline import run_paste

    out = tmp_path / "pasted"
    run_paste(PasteConfig(prep=prepared, out=out, images=2, per_image=1, workers=1))
    for fmt in FORMATS:
        assert "path" not in yaml.safe_load((out / fmt / "data.yaml").read_text())
        assert _resolved(out / fmt / "data.yaml")["train"] == str((out / fmt / "images" / "train").resolve())


@pytest.mark.parametrize("balance", [False, True])
def test_run_data_yaml_is_relative_and_label_caches_stay_in_the_run(prepared: Path, tmp_path: Path, balance: bool):
    from wood.offline import setup_ultralytics

    setup_ultralytics()  # before Ultralytics is imported: no DNS lookups at import
    from ultralytics.data.dataset import YOLODataset

    run_dir = (tmp_path / "run").resolve()
    run_dir.mkdir()
    cfg = YoloConfig(data=prepared, model="yolov8n.yaml", out=tmp_path, balance=balance)
    before = _snapshot(prepared)
    data_yaml, _ = write_run_data_yaml(cfg, run_dir)
    assert "path" not in yaml.safe_load(data_yaml.read_text())
    data = _resolved(data_yaml)
    assert data["val"] == str(run_dir / "images" / "val")
    assert data["train"] == str(run_dir / ("train_list.txt" if balance else "images/train"))
    if balance:
        lines = (run_dir / "train_list.txt").read_text().split()
        assert lines and all(line.startswith("./images/train/") for line in lines)
    for split in ("train", "val"):
        dataset = YOLODataset(img_path=data[split], data=data, task="detect", augment=False, imgsz=64)
        assert dataset.im_files and all(
            Path(f).resolve().parent == prepared.resolve() / "yolo" / "images" / split for f in dataset.im_files
        )
        assert (run_dir / "labels" / f"{split}.cache").is_file()
    assert _snapshot(prepared) == before  # nothing written into the prepared folder


@pytest.mark.slow
def test_a_copied_prep_trains_on_itself(prepared: Path, tmp_path: Path, no_network, wood_home):  # noqa: F811
    from wood.cli import main

    original, copy = tmp_path / "original", tmp_path / "elsewhere" / "copy"
    shutil.copytree(prepared, original)
    shutil.copytree(original, copy)
    shutil.rmtree(original)
    before = _snapshot(copy)
    args = ["--data", str(copy), "--model", "yolov8n.yaml", "--epochs", "1", "--imgsz", "64", "--batch", "4"]
    with pytest.raises(SystemExit) as info:
        main(["finetune", "yolo", *args, "--workers", "0", "--device", "cpu", "--out", str(tmp_path / "runs")])
    assert info.value.code == 0
    run = tmp_path / "runs" / "detect"
    assert (run / "weights" / "best.pt").is_file()
    assert _snapshot(copy) == before  # no label cache written into the prepared folder
    assert sorted(p.name for p in (run / "labels").glob("*.cache")) == ["train.cache", "val.cache"]


def test_an_ultralytics_label_cache_in_a_prep_does_not_block_re_prep(synth_root: Path, tmp_path: Path):
    """Runs before the run folder held its own links left labels/<split>.cache in the prep: prep still
    replaces its own output, and the run folder never links the stale cache."""
    from wood.prep.config import PrepConfig
    from wood.prep.pipeline import run_prep

    out = tmp_path / "p"
    run_prep(PrepConfig(source=synth_root, out=out, workers=1))
    (out / "yolo" / "labels" / "train.cache").write_bytes(b"stale")
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    write_run_data_yaml(YoloConfig(data=out, model="yolov8n.yaml", out=tmp_path), run_dir)
    assert not list((run_dir / "labels").rglob("*.cache"))
    run_prep(PrepConfig(source=synth_root, out=out, workers=1))
    assert not (out / "yolo" / "labels" / "train.cache").exists()


def test_linked_data_yaml_for_a_val_on_one_split_keeps_caches_beside_it(prepared: Path, tmp_path: Path):
    """What an evaluation folder can give Ultralytics' model.val: the chosen split linked beside it."""
    from wood.finetune.yolo.data import write_linked_data_yaml

    _resolved(prepared / "yolo" / "data.yaml")  # Ultralytics set up offline before its first import
    from ultralytics.data.dataset import YOLODataset

    folder = (tmp_path / "eval").resolve()
    folder.mkdir()
    before = _snapshot(prepared)
    keys = {"train": "test", "val": "test"}
    path = write_linked_data_yaml(prepared / "yolo", ["a", "b", "c", "d", "e"], folder / "ultralytics_data.yaml", keys)
    data = _resolved(path)
    assert "path" not in yaml.safe_load(path.read_text()) and data["val"] == str(folder / "images" / "test")
    assert sorted(p.name for p in (folder / "images").iterdir()) == ["test"]
    YOLODataset(img_path=data["val"], data=data, task="detect", augment=False, imgsz=64)
    assert (folder / "labels" / "test.cache").is_file() and _snapshot(prepared) == before
