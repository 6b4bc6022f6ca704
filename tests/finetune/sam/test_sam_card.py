"""The SAM model card's code block, run as written in a fresh interpreter where wood cannot be imported,
gives the masks `wood eval segment` writes (the run's dense box mask prompt included)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from _sam_fixtures import make_prep_dataset, train_tiny_sam

DRIVER = """
data = np.load("card_input.npz")
out = {}
for key in data.files:
    if key.startswith("rgb_"):
        image_id = key[4:]
        out[image_id] = segment(data[key], data["boxes_" + image_id])
np.savez("card_output.npz", **out)
"""


def card_code(run: Path) -> str:
    card = (run / "weights" / "README.md").read_text(encoding="utf-8")
    return re.search(r"```python\n(.*?)```", card, re.S).group(1)


@pytest.mark.slow
@pytest.mark.parametrize("box_mask_prompt", [True])  # runs without it: tests/deploy/test_sam_export.py
def test_card_code_reproduces_eval_segment_masks(tmp_path: Path, box_mask_prompt: bool):
    from wood.eval.segment.evaluate import evaluate
    from wood.finetune.sam.data import load_split, read_rgb
    from wood.prep.formats.coco_masks import segmentation_to_mask

    prep = make_prep_dataset(tmp_path / "prep", size=80, counts={"train": (1, 0), "test": (1, 1)})
    run = train_tiny_sam(prep, tmp_path, box_mask_prompt=box_mask_prompt)
    evaluate(run, "test", boxes="gt", out=tmp_path / "eval", overlays=0, device="cpu")
    results = json.loads((tmp_path / "eval" / "predictions_segm.json").read_text())

    code = card_code(run)
    assert not re.search(r"^\s*(import|from)\s+wood\b", code, re.M)
    assert ("mask_input=torch.from_numpy(box_mask_input(boxes))" in code) is box_mask_prompt
    images = [im for im in load_split(prep, "test")[0] if im.instances]
    arrays = {}
    for im in images:
        arrays[f"rgb_{im.image_id}"] = read_rgb(im)
        arrays[f"boxes_{im.image_id}"] = np.stack([i.bbox_xyxy for i in im.instances]).astype(np.float32)
    np.savez(run / "card_input.npz", **arrays)
    script = "import sys\nsys.modules['wood'] = None  # wood cannot be imported here\n" + code + DRIVER
    done = subprocess.run([sys.executable, "-c", script], cwd=run, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    got = np.load(run / "card_output.npz")
    checked = 0
    for im in images:
        expected = [
            segmentation_to_mask(r["segmentation"], *im.original_size) for r in results if r["image_id"] == im.image_id
        ]
        card_masks = got[str(im.image_id)]
        assert card_masks.shape == (len(expected), *im.original_size)
        for a, b in zip(card_masks, expected, strict=True):
            assert np.array_equal(a, b)
            checked += 1
    assert checked == sum(len(im.instances) for im in images) > 0
