"""--zoom: each box segmented in its own crop. The window holds the box and stays in the image, training sees one
crop per instance with its mask cut to it, the pretrained LiteMedSAM segments a small disk better zoomed, and a
zoomed run is scored zoomed."""

from __future__ import annotations

import numpy as np
import pytest
from _sam_fixtures import disk_image, make_prep_dataset, train_tiny_sam

from wood.errors import ConfigError
from wood.finetune.sam.config import SamTrainConfig
from wood.finetune.sam.data import SamImage, SamInstance, load_split, read_rgb
from wood.finetune.sam.train import resume_mismatch
from wood.finetune.sam.zoom import ZOOM_MIN_SIDE, zoom_masks, zoom_window, zoomed_images


@pytest.mark.parametrize(
    ("box", "size", "context", "window"),
    [
        ((100, 100, 140, 120), (512, 512), 2.0, (80, 70, 80, 80)),  # centred: 2 x the longer side (40)
        ((10, 10, 20, 16), (512, 512), 2.0, (0, 0, ZOOM_MIN_SIDE, ZOOM_MIN_SIDE)),  # at least 64 px, moved in
        ((480, 490, 512, 512), (512, 512), 2.0, (448, 448, 64, 64)),  # the bottom-right corner
        ((0, 0, 300, 100), (200, 400), 2.0, (0, 0, 400, 200)),  # larger than the image: cut to it
    ],
)
def test_zoom_window(box, size, context, window):
    got = zoom_window(np.array(box, np.float32), size, context)
    assert got == window
    x, y, w, h = got
    assert x <= box[0] and y <= box[1] and x + w >= box[2] and y + h >= box[3]


def test_zoomed_images_one_crop_per_instance_with_its_mask_cut(tmp_path):
    prep = make_prep_dataset(tmp_path / "prep", size=128, counts={"train": (1, 0)})
    images = load_split(prep, "train")[0]
    crops = zoomed_images(images, 2.0)
    assert len(crops) == sum(len(im.instances) for im in images) > 0
    assert len({c.image_id for c in crops}) == len(crops) and all(c.image_id < 0 for c in crops)
    sources = {im.file_name: im for im in images}
    for crop in crops:
        (inst,) = crop.instances
        source = sources[crop.file_name]
        original = next(i for i in source.instances if i.ann_id == inst.ann_id)
        x, y = crop.crop[:2]
        assert inst.mask.shape == crop.original_size == read_rgb(crop).shape[:2]
        assert inst.mask.sum() == original.mask.sum()  # the whole instance is inside its crop
        np.testing.assert_array_equal(read_rgb(crop), read_rgb(source)[y : y + crop.height, x : x + crop.width])
        np.testing.assert_allclose(inst.bbox_xyxy, original.bbox_xyxy - [x, y, x, y])


@pytest.mark.slow
def test_litemedsam_segments_a_small_disk_better_zoomed():
    from wood.eval.segment.masks import prompt_masks
    from wood.finetune.sam.data import box_prompts
    from wood.finetune.sam.models import load_sam
    from wood.finetune.sam.predictor import SamPredictor

    rgb, mask, box = disk_image(512, (300, 200), 7)  # a few cells of LiteMedSAM's 64 x 64 mask grid
    sam, _ = load_sam("litemedsam")
    predictor = SamPredictor(sam.eval(), "cpu")
    prompts = box_prompts(box, rgb.shape[:2], predictor.target)
    iou = {}
    for zoom in (0.0, 2.0):
        pred = prompt_masks(predictor, rgb, prompts, box, zoom)[0][0]
        iou[zoom] = float((pred & mask).sum() / (pred | mask).sum())
    assert iou[2.0] >= 0.8 and iou[2.0] > iou[0.0] + 0.05, iou
    cache: dict = {}
    again, _ = zoom_masks(predictor, rgb, box, 2.0, cache, "disk")
    assert len(cache) == 1 and again[0, :, :250].sum() == 0  # one crop embedded; nothing outside the crop


def test_zoom_config_checks():
    with pytest.raises(ConfigError, match="zoom must be 0"):
        SamTrainConfig(data="d", zoom=0.5)
    with pytest.raises(ConfigError, match="zoom must be 0"):
        SamTrainConfig(data="d", zoom=2.0, prompt="points")
    assert SamTrainConfig(data="d", zoom=2).zoom == 2


def test_resume_of_a_run_from_before_zoom_is_not_a_mismatch():
    ours = {"zoom": 0.0, "model": "tiny"}
    assert resume_mismatch({"model": "tiny"}, ours) == []
    assert resume_mismatch({"model": "tiny"}, ours | {"zoom": 2.0}) == ["zoom"]


@pytest.mark.slow
def test_a_zoomed_run_trains_on_crops_and_is_scored_zoomed(tmp_path):
    from wood.eval.segment.evaluate import evaluate

    prep = make_prep_dataset(tmp_path / "prep", size=128, counts={"train": (1, 0), "test": (1, 0)})
    run = train_tiny_sam(prep, tmp_path, zoom=2.0, max_steps=1)
    assert "zoom: 2.0" in (run / "config.yaml").read_text()
    assert "Zoom 2: trained and scored on one square crop per box" in (run / "weights" / "README.md").read_text()
    scored = evaluate(run, "test", out=tmp_path / "ev", overlays=0, device="cpu")
    plain = evaluate(run, "test", out=tmp_path / "ev0", overlays=0, device="cpu", zoom=0.0)
    assert scored["zoom"] == 2.0 and plain["zoom"] == 0.0
    assert scored["instances"] and len(scored["instances"]) == len(plain["instances"])


def test_sam_image_crop_checks_the_file_size(tmp_path):
    from wood.errors import MisMatchError

    prep = make_prep_dataset(tmp_path / "prep", size=64, counts={"train": (1, 0)})
    image = load_split(prep, "train")[0][0]
    inst = SamInstance(1, 1, np.zeros(4, np.float32), np.zeros((8, 8), bool))
    wrong = SamImage(-1, image.file_name, image.path, 8, 8, [inst], crop=(0, 0, 99, 99))
    with pytest.raises(MisMatchError, match="COCO file says 99x99"):
        read_rgb(wrong)
