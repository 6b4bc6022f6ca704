"""`wood synth`: exact MVTec layout, exact 0/255 masks, determinism, tiny defects and holed masks."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from wood.errors import ConfigError, WoodError
from wood.prep.synth.draw import TINY_AREA, WOOD_DEFECTS, defect_image, wood_texture
from wood.prep.synth.write import write_synth


def _read(path: Path) -> np.ndarray:
    array = cv2.imdecode(np.frombuffer(path.read_bytes(), np.uint8), cv2.IMREAD_UNCHANGED)
    assert array is not None, path
    return array


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def default_run(tmp_path_factory) -> Path:
    """A default-sized run (256 px, 10 per defect, 10 good, 10 train good)."""
    out = tmp_path_factory.mktemp("synth") / "wood"
    return write_synth(out, size=256, per_defect=10, good=10, train_good=10, seed=0)


def test_layout_is_exact_mvtec(default_run: Path) -> None:
    files = set(_tree(default_run))
    expected = {f"train/good/{i:03d}.png" for i in range(10)} | {f"test/good/{i:03d}.png" for i in range(10)}
    for defect in WOOD_DEFECTS:
        expected |= {f"test/{defect}/{i:03d}.png" for i in range(10)}
        expected |= {f"ground_truth/{defect}/{i:03d}_mask.png" for i in range(10)}
    assert files == expected | {".wood-output.json"}  # wood's marker: the folder may be replaced by a re-run
    assert not list(default_run.parent.glob(".*tmp*"))  # no temp folder left beside OUT


def test_masks_are_binary_match_images_and_cover_the_change(default_run: Path) -> None:
    for defect in WOOD_DEFECTS:
        for i in range(10):
            image = _read(default_run / "test" / defect / f"{i:03d}.png")
            mask = _read(default_run / "ground_truth" / defect / f"{i:03d}_mask.png")
            assert image.shape == (256, 256, 3) and image.dtype == np.uint8
            assert mask.shape == (256, 256) and mask.dtype == np.uint8
            assert set(np.unique(mask)) == {0, 255}, (defect, i)
            n, _ = cv2.connectedComponents((mask > 0).astype(np.uint8), connectivity=8)
            assert 1 <= n - 1 <= 6, (defect, i, n - 1)


def _component_areas(mask: np.ndarray) -> list[int]:
    n, _, stats, _ = cv2.connectedComponentsWithStats((mask > 0).astype(np.uint8), connectivity=8)
    return [int(a) for a in stats[1:, cv2.CC_STAT_AREA]]


def _has_hole(mask: np.ndarray) -> bool:
    contours, hierarchy = cv2.findContours((mask > 0).astype(np.uint8), cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    return hierarchy is not None and bool((hierarchy[0][:, 3] >= 0).any())


def test_tiny_components_and_holed_masks_exist(default_run: Path) -> None:
    masks = {p: _read(p) for p in sorted((default_run / "ground_truth").rglob("*_mask.png"))}
    tiny = [p for p, m in masks.items() if min(_component_areas(m)) < TINY_AREA]
    holed = [p for p, m in masks.items() if _has_hole(m)]
    assert len(tiny) >= 5, "expected tiny (< 50 px) components in several masks"
    assert len(holed) >= 3, "expected masks with holes (ring stains, dry islands)"
    assert any("hole" in p.parent.name for p in tiny)  # tiny pits, not only tiny stains
    # large defects too: the size distribution has a long tail, not only specks
    assert max(max(_component_areas(m)) for m in masks.values()) > 1000


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path: Path) -> None:
    a = _tree(write_synth(tmp_path / "a", size=64, per_defect=2, good=1, train_good=1, seed=3))
    b = _tree(write_synth(tmp_path / "b", size=64, per_defect=2, good=1, train_good=1, seed=3))
    c = _tree(write_synth(tmp_path / "c", size=64, per_defect=2, good=1, train_good=1, seed=4))
    marker = ".wood-output.json"  # records each file's inode and mtime too: not part of the content
    assert {k: v for k, v in a.items() if k != marker} == {k: v for k, v in b.items() if k != marker}
    assert a.keys() == b.keys() == c.keys()
    assert all(a[k] != c[k] for k in a if not k.startswith(("ground_truth", ".wood")))


def test_counts_do_not_change_other_images(tmp_path: Path) -> None:
    a = _tree(write_synth(tmp_path / "a", size=64, per_defect=1, good=1, train_good=1, seed=0))
    b = _tree(write_synth(tmp_path / "b", size=64, per_defect=2, good=3, train_good=0, seed=0))
    assert a["test/hole/000.png"] == b["test/hole/000.png"]
    assert a["test/good/000.png"] == b["test/good/000.png"]


def test_gray_writes_single_channel_images(tmp_path: Path) -> None:
    out = write_synth(tmp_path / "g", size=64, per_defect=1, good=1, train_good=1, seed=0, gray=True)
    for path in out.rglob("*.png"):
        assert _read(path).ndim == 2, path


@pytest.mark.parametrize("size", [64, 1024])
def test_sizes_and_defects_visible(size: int) -> None:
    for k, defect in enumerate(WOOD_DEFECTS):
        rng = np.random.default_rng(k)
        image, mask = defect_image(rng, size, defect, tiny=k == 2, holed=k in (0, 1))
        assert image.shape == (size, size, 3) and mask.shape == (size, size) and mask.any()
        # the defect differs from the plain wood drawn by the same generator state
        plain = wood_texture(np.random.default_rng(k), size)
        diff = np.abs(image.astype(int) - plain.astype(int)).sum(axis=2)
        assert not diff[~mask].any(), "pixels outside the mask were changed"
        assert (diff[mask] > 15).mean() > 0.9, "most mask pixels must visibly change"


def test_existing_folder_needs_exist_ok_and_is_replaced_atomically(tmp_path: Path) -> None:
    out = tmp_path / "wood"
    write_synth(out, size=64, per_defect=1, good=1, train_good=1, seed=1)
    before = (out / "test/hole/000.png").read_bytes()
    with pytest.raises(WoodError, match="--exist-ok"):
        write_synth(out, size=64, per_defect=1, good=1, train_good=1, exist_ok=False)
    assert (out / "test/hole/000.png").read_bytes() == before
    write_synth(out, size=64, per_defect=1, good=1, train_good=1, exist_ok=True)
    assert (out / "test/hole/000.png").read_bytes() != before and (out / "ground_truth/hole/000_mask.png").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["wood"]


def test_exist_ok_never_replaces_a_folder_synth_did_not_write(tmp_path: Path) -> None:
    """A real MVTec category has the same layout as a synthetic one: --exist-ok must not overwrite it."""
    out = tmp_path / "wood"
    (out / "test" / "hole").mkdir(parents=True)
    (out / "test" / "hole" / "000.png").write_bytes(b"the user's real image")
    with pytest.raises(WoodError, match="not a wood synth output"):
        write_synth(out, size=64, per_defect=1, good=1, train_good=1, exist_ok=True)
    assert (out / "test" / "hole" / "000.png").read_bytes() == b"the user's real image"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["wood"]


def test_bad_category_is_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="wood"):
        write_synth(tmp_path / "x", category="grid")
    assert not (tmp_path / "x").exists()


def test_cli_bad_category_exits_2(tmp_path: Path, capsys) -> None:
    from wood.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["synth", str(tmp_path / "x"), "--category", "grid"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "grid" in err and "wood" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "x").exists()


def test_cli_writes_tree(tmp_path: Path) -> None:
    from wood.cli import main

    out = tmp_path / "s"
    with pytest.raises(SystemExit) as exc:
        main(["synth", str(out), "--size", "64", "--per-defect", "1", "--good", "1", "--train-good", "2"])
    assert exc.value.code == 0
    assert (out / "train/good/001.png").is_file() and (out / "ground_truth/scratch/000_mask.png").is_file()
    with pytest.raises(SystemExit) as exc:
        main(["synth", str(out), "--size", "64"])
    assert exc.value.code == 2


def test_interrupted_run_leaves_nothing_behind(tmp_path: Path, monkeypatch) -> None:
    import wood.prep.synth.write as synth_io

    real, calls = synth_io.draw_item, []

    def failing(config, item):
        calls.append(item)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(config, item)

    monkeypatch.setattr(synth_io, "draw_item", failing)
    out = tmp_path / "wood"
    with pytest.raises(KeyboardInterrupt):
        write_synth(out, size=64, per_defect=1, good=1, train_good=1)
    assert list(tmp_path.iterdir()) == []  # neither OUT nor a temp folder


def test_subtle_defects_keep_the_mask_contract_and_are_fainter_than_bold(tmp_path: Path) -> None:
    from wood.prep.synth.subtle import SUBTLE_DRAWERS

    bold_change, subtle_change = [], []
    for k, defect in enumerate(WOOD_DEFECTS):
        for drawers, changes in ((None, bold_change), (SUBTLE_DRAWERS, subtle_change)):
            rng = np.random.default_rng(k)
            image, mask = defect_image(rng, 256, defect, tiny=k == 2, holed=k in (0, 1), drawers=drawers)
            plain = wood_texture(np.random.default_rng(k), 256)
            diff = np.abs(image.astype(int) - plain.astype(int)).max(axis=2)
            assert mask.any() and not diff[~mask].any(), (defect, "pixels outside the mask were changed")
            assert (diff[mask] > 0).mean() > 0.95, (defect, "mask pixels must change")
            changes.append(float(np.median(diff[mask])))
    # the median change of a mask pixel, per defect type: less than half of the bold drawer's
    assert all(s < b / 2 for s, b in zip(subtle_change, bold_change, strict=True)), (subtle_change, bold_change)
    bold = _tree(write_synth(tmp_path / "b", size=64, per_defect=1, good=1, train_good=1, seed=0))
    subtle = _tree(write_synth(tmp_path / "s", size=64, per_defect=1, good=1, train_good=1, seed=0, defects="subtle"))
    assert bold["train/good/000.png"] == subtle["train/good/000.png"]  # the same wood; only defects differ
    assert bold["test/good/000.png"] == subtle["test/good/000.png"]
    assert all(bold[f"test/{d}/000.png"] != subtle[f"test/{d}/000.png"] for d in WOOD_DEFECTS)
    with pytest.raises(ConfigError, match="--defects"):
        write_synth(tmp_path / "x", size=64, defects="loud")
