"""`wood finetune classify --resume`: an interrupted run continues from its last epoch checkpoint.

The interruption is an exception raised right after a checkpoint is saved (in-process, fast); a SIGKILL
under `accelerate launch` leaves the same files, since the checkpoint is complete before the next
epoch starts.
"""

from __future__ import annotations

import json

import pytest
import torch
from _classify_fixtures import write_classify_tree, write_fake_resnet18

from wood.finetune.classify import resume
from wood.finetune.classify.config import ClassifyConfig
from wood.finetune.classify.train import train

pytestmark = pytest.mark.slow


class Interrupted(Exception):
    pass


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("classify_resume")
    data = write_classify_tree(root / "prep", size=32)
    write_fake_resnet18(root / "fake_resnet18.pth")
    return {"data": data, "weights": root / "fake_resnet18.pth"}


def _cfg(tiny, out, **kw):
    """Two phases (1 head-only epoch, then 2 epochs of everything with Adam): augmentation, the epoch order,
    the optimizer moments and the phase all have to come back for the weights to match."""
    base = dict(data=str(tiny["data"]), arch="resnet18", strategy="finetune", weights=str(tiny["weights"]))
    base.update(epochs=1, finetune_epochs=2, imgsz=32, batch=5, device="cpu", out=str(out))
    return ClassifyConfig(**{**base, **kw})


def _interrupt_after(monkeypatch, epochs: int):
    save = resume.save

    def save_then_stop(accelerator, folder, record):
        save(accelerator, folder, record)
        if len(record["history"]) == epochs:
            raise Interrupted

    monkeypatch.setattr(resume, "save", save_then_stop)


def _weights(run):
    return torch.load(run / "weights.pt", map_location="cpu", weights_only=True)["state_dict"]


def test_resumed_in_the_second_phase_equals_the_uninterrupted_run(tiny, tmp_path, monkeypatch):
    full = train(_cfg(tiny, tmp_path, name="full"))
    with monkeypatch.context() as m:
        _interrupt_after(m, 2)  # in the finetune phase, one epoch of it done
        with pytest.raises(Interrupted):
            train(_cfg(tiny, tmp_path, name="cut"))
    assert not (tmp_path / "cut").exists()  # no half-written run folder, only the checkpoint
    assert {p.name for p in resume.resume_dir(tmp_path / "cut").iterdir()} >= {"progress.pt", "epoch-2"}
    cut = train(_cfg(tiny, tmp_path, name="cut", resume=True))
    a, b = _weights(full), _weights(cut)
    assert all(torch.equal(v, b[k]) for k, v in a.items())
    ma, mb = (json.loads((r / "metrics.json").read_text()) for r in (full, cut))
    assert ma["history"] == mb["history"] and [p["name"] for p in mb["phases"]] == ["transfer", "finetune"]
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".wood-lock")) == ["cut", "full"]


def _cli(args, capsys):
    from wood.cli import main

    with pytest.raises(SystemExit) as info:
        main(args)
    return info.value.code, capsys.readouterr().err.strip()


def test_resume_that_cannot_continue_is_one_line_exit_2(tiny, tmp_path, monkeypatch, capsys):
    base = ["finetune", "classify", "--data", str(tiny["data"]), "--epochs", "2", "--imgsz", "32"]
    base += ["--batch", "6", "--device", "cpu", "--out", str(tmp_path), "--name", "r"]
    code, err = _cli([*base, "--resume"], capsys)
    assert code == 2 and "\n" not in err and "nothing to resume" in err
    with monkeypatch.context() as m:
        _interrupt_after(m, 1)
        with pytest.raises(Interrupted):
            from wood.cli import main

            main(base)
    code, err = _cli([*base, "--resume", "--lr", "0.01"], capsys)
    assert code == 2 and "\n" not in err and "lr" in err and "differ" in err
    assert not (tmp_path / "r").exists()
    code, err = _cli([*base, "--resume"], capsys)
    assert code == 0 and json.loads((tmp_path / "r" / "metrics.json").read_text())["history"][-1]["epoch"] == 2
