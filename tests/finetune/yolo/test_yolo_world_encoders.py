"""Text encoders, prompt files and the keyed embedding cache of YOLO-World (fast, no model)."""

from __future__ import annotations

import importlib.util

import pytest
import torch

from wood.errors import ConfigError, WoodError
from wood.finetune.yolo import text_encoders as te
from wood.finetune.yolo.world import apply_text_embeddings, read_prompts_file


class FakeEncoder(te.TextEncoder):
    """Deterministic unit vectors per text (seeded by the text), counting calls."""

    calls = 0

    def __init__(self, name: str):
        self.name = name

    def encode(self, texts):
        FakeEncoder.calls += 1
        rows = []
        for t in texts:
            g = torch.Generator().manual_seed(sum(map(ord, self.name + t)))
            rows.append(torch.nn.functional.normalize(torch.randn(te.TEXT_DIM, generator=g), dim=0))
        return torch.stack(rows)


@pytest.fixture
def fake_encoders(monkeypatch):
    monkeypatch.setitem(te.text_encoder_registry, "fake-a", lambda device: FakeEncoder("fake-a"))
    monkeypatch.setitem(te.text_encoder_registry, "fake-b", lambda device: FakeEncoder("fake-b"))
    FakeEncoder.calls = 0


PROMPTS = {"hole": ["a hole in a wooden surface", "a dark pit in wood"], "scratch": ["a scratch"]}


def test_pad_to_dim_keeps_norm_and_dot_products():
    x = torch.nn.functional.normalize(torch.randn(3, 384), dim=1)
    y = te.pad_to_dim(x, 512)
    assert y.shape == (3, 512)
    assert torch.allclose(y.norm(dim=1), torch.ones(3))
    assert torch.allclose(y @ y.T, x @ x.T, atol=1e-6)
    assert torch.all(y[:, 384:] == 0)
    with pytest.raises(ValueError, match=r"shape \(2, 600\)"):
        te.pad_to_dim(torch.zeros(2, 600), 512)


def test_prompt_ensemble_is_renormalised_mean(fake_encoders):
    enc = te.get_text_encoder("fake-a")
    emb = te.encode_classes(enc, PROMPTS)
    a, b = enc.encode(PROMPTS["hole"])
    expected = (a + b) / (a + b).norm()
    assert torch.allclose(emb["hole"], expected, atol=1e-6)
    assert torch.allclose(emb["scratch"], enc.encode(["a scratch"])[0], atol=1e-6)
    assert abs(float(emb["hole"].norm()) - 1.0) < 1e-6


def test_cache_is_keyed_by_encoder_and_prompts(fake_encoders, tmp_path):
    emb_a, path_a = te.class_embeddings("fake-a", PROMPTS, tmp_path)
    assert path_a.is_file() and FakeEncoder.calls == 1
    again, path_again = te.class_embeddings("fake-a", PROMPTS, tmp_path)
    assert path_again == path_a and FakeEncoder.calls == 1  # reused, not re-encoded
    assert torch.equal(again["hole"], emb_a["hole"])

    renamed = {**PROMPTS, "hole": ["pit in wood"]}
    emb_p, path_p = te.class_embeddings("fake-a", renamed, tmp_path)
    assert path_p != path_a and FakeEncoder.calls == 2
    assert not torch.allclose(emb_p["hole"], emb_a["hole"])

    emb_b, path_b = te.class_embeddings("fake-b", PROMPTS, tmp_path)
    assert path_b not in (path_a, path_p) and FakeEncoder.calls == 3
    assert not torch.allclose(emb_b["hole"], emb_a["hole"])
    assert len(list(tmp_path.glob("wood_text_embeddings_*.pt"))) == 3


def test_stale_cache_content_is_never_trusted(fake_encoders, tmp_path):
    _, path = te.class_embeddings("fake-a", PROMPTS, tmp_path)
    # A file under the right name but recording other prompts (or garbage) is recomputed.
    torch.save(
        {
            "format": te.CACHE_FORMAT,
            "encoder": "fake-a",
            "prompts": {"hole": ["x"]},
            "embeddings": {"hole": torch.zeros(512), "scratch": torch.zeros(512)},
        },
        path,
    )
    emb, _ = te.class_embeddings("fake-a", PROMPTS, tmp_path)
    assert FakeEncoder.calls == 2 and float(emb["hole"].norm()) > 0.99
    path.write_bytes(b"not a torch file")
    emb, _ = te.class_embeddings("fake-a", PROMPTS, tmp_path)
    assert FakeEncoder.calls == 3 and float(emb["hole"].norm()) > 0.99


def test_ultralytics_names_only_cache_name_is_distinct(tmp_path):
    path = te.cache_path(tmp_path, "clip:ViT-B/32", PROMPTS)
    assert path.name != "text_embeddings_clip_ViT-B_32.pt"
    assert path.name.startswith("wood_text_embeddings_clip_ViT-B_32_")


def test_missing_clip_is_one_line_naming_the_fix(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "clip" else real(name, *a))
    for name in ("clip:ViT-B/32", "clip"):
        with pytest.raises(WoodError) as err:
            te.get_text_encoder(name)
        msg = str(err.value)
        assert "\n" not in msg and "pip install" in msg and "--text-encoder minilm" in msg


def test_unknown_encoder_is_config_error():
    with pytest.raises(ConfigError, match="unknown text encoder 'bert'"):
        te.check_encoder_name("bert")


def test_prompts_file_forms_and_errors(tmp_path):
    names = ["hole", "scratch"]
    f = tmp_path / "p.yaml"
    f.write_text("hole: pit in wood\nscratch: [a scratch, a line]\n")
    assert read_prompts_file(f, names) == {"hole": ["pit in wood"], "scratch": ["a scratch", "a line"]}
    f.write_text("classes:\n  scratch: {prompts: [a scratch]}\n  hole: {prompts: [a hole]}\n")
    assert list(read_prompts_file(f, names)) == names  # dataset class order, not file order
    f.write_text("hole: [a hole]\nscratch: [x]\nknot: [a knot]\n")
    with pytest.raises(ConfigError, match=r"unknown class name\(s\) \['knot'\]"):
        read_prompts_file(f, names)
    f.write_text("hole: [a hole]\n")
    with pytest.raises(ConfigError, match="no prompts for class"):
        read_prompts_file(f, names)
    f.write_text("hole: []\nscratch: [x]\n")
    with pytest.raises(ConfigError, match="non-empty list"):
        read_prompts_file(f, names)


def test_apply_text_embeddings_checks_dims():
    class Head(torch.nn.Module):
        nc = 80

    class Model(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.model = torch.nn.ModuleList([torch.nn.Linear(2, 2), Head()])

    m = Model()
    apply_text_embeddings(m, ["a", "b"], torch.zeros(2, 512))
    assert m.txt_feats.shape == (1, 2, 512) and m.model[-1].nc == 2 and m.names == {0: "a", 1: "b"}
    with pytest.raises(WoodError, match="512 dims"):
        apply_text_embeddings(m, ["a"], torch.zeros(1, 384))
