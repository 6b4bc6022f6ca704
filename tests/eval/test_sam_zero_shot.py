"""`wood eval segment --model litemedsam`: the pretrained SAM scored untrained into a folder wood owns, which
`wood report` lists as zero-shot beside the fine-tuned runs."""

from __future__ import annotations

import json

import pytest
from _cli import run_cli
from _sam_fixtures import make_prep_dataset

from wood.outdir import MARKER
from wood.reporting.format import num
from wood.reporting.render import Table
from wood.reporting.runs import collect
from wood.reporting.segment import segmentation_section


@pytest.fixture(scope="module")
def prep(tmp_path_factory):
    return make_prep_dataset(
        tmp_path_factory.mktemp("zero-shot") / "prep", size=64, counts={"train": (1, 0), "test": (1, 0)}
    )


def test_zero_shot_folder_is_scored_owned_and_labelled_in_the_report(prep, tmp_path, capsys):
    out = tmp_path / "runs" / "zs"
    code, err = run_cli(
        ["eval", "segment", "--model", "litemedsam", "--data", prep, "--out", out, "--device", "cpu"], capsys
    )
    assert code == 0, err
    metrics = json.loads((out / "segment_metrics.json").read_text())
    assert metrics["zero_shot"] and metrics["model"] == "litemedsam" and metrics["split"] == "test"
    assert metrics["files"]["json"] == str(out / "segment_metrics.json")
    assert metrics["instance_mIoU"] > 0.5  # 3 synthetic defects, GT boxes
    assert json.loads((out / MARKER).read_text())["kind"] == "sam-zero-shot"
    assert json.loads((out / "metrics.json").read_text())["params"]["trainable"] == 0

    found = collect([tmp_path / "runs"])
    (run,) = found.of_kind("sam")
    section = segmentation_section([run])
    table = next(b for b in section.blocks if isinstance(b, Table))
    assert "zero-shot (no training)" in table.rows[0]
    assert table.rows[0][6] == num(metrics["mIoU"])  # the GT-box mIoU column

    # a trained-run command on it says what it is; a folder wood did not write is never replaced
    code, err = run_cli(["eval", "segment", "--run", out, "--device", "cpu"], capsys)
    assert code == 2 and "zero-shot evaluation folder" in err
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep")
    code, err = run_cli(["eval", "segment", "--model", "litemedsam", "--data", prep, "--out", mine], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1 and (mine / "notes.txt").read_text() == "keep"


def test_run_and_model_exclude_each_other_and_tiny_has_no_zero_shot(prep, tmp_path, capsys):
    code, err = run_cli(["eval", "segment", "--data", prep], capsys)
    assert code == 2 and "either --run" in err
    code, err = run_cli(["eval", "segment", "--model", "tiny", "--data", prep, "--out", tmp_path / "o"], capsys)
    assert code == 2 and "no pretrained weights" in err and not (tmp_path / "o").exists()


def test_shared_embeddings_give_the_masks_of_recomputed_ones(prep, tmp_path):
    """The demo hands the zero-shot evaluation's image embeddings to a decoder-only run's evaluation (the same
    encoder): an evaluation that reuses them writes the masks of one that encodes every image itself."""
    from wood.eval.segment.zero_shot import evaluate_zero_shot

    shared: dict = {}
    evaluate_zero_shot("litemedsam", prep, out=tmp_path / "a", device="cpu", overlays=0, embeddings=shared)
    assert len(shared) == 3 and all(e.shape == (1, 256, 64, 64) for e in shared.values())  # one per test image
    kept = dict(shared)
    evaluate_zero_shot("litemedsam", prep, out=tmp_path / "b", device="cpu", overlays=0, embeddings=shared)
    assert shared.keys() == kept.keys() and all(e is kept[k] for k, e in shared.items())  # reused, not recomputed
    fresh = evaluate_zero_shot("litemedsam", prep, out=tmp_path / "c", device="cpu", overlays=0)
    masks = [json.loads((tmp_path / k / "predictions_segm.json").read_text()) for k in ("a", "b", "c")]
    assert masks[0] == masks[1] == masks[2] and masks[0]
    assert fresh["mIoU"] == json.loads((tmp_path / "b" / "segment_metrics.json").read_text())["mIoU"]
