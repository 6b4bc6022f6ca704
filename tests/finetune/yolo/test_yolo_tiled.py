"""wood finetune yolo on a tiled prep warns when --imgsz is not the tile size."""

from wood.finetune.yolo.data import tiled_imgsz_warning


def test_tiled_prep_trained_off_its_tile_size_warns_with_the_fix():
    line = tiled_imgsz_warning({"size": 256, "overlap": 0.2}, 1024)
    assert line is not None and "--imgsz 256" in line and "--slice 256" in line and "\n" not in line


def test_matching_size_or_untiled_prep_is_silent():
    assert tiled_imgsz_warning({"size": 256}, 256) is None
    assert tiled_imgsz_warning(None, 1024) is None
    assert tiled_imgsz_warning({"size": "256"}, 1024) is None  # a hand-edited manifest: no guess
