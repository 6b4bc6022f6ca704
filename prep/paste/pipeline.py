"""`wood paste`: Simple Copy-Paste (Ghiasi et al., CVPR 2021) on a prepared folder -> a new prepared folder.

The output keeps the `wood prep` contract (docs/prep_format.md; the additions in docs/paste_format.md):
train holds the source's train images plus ``--images`` new ones, each a train background with train
instances pasted in; val and test are the source's files, byte-identical. No pixel of a val or test image
is ever read for the new images.

Module map: paste_config (options), paste_bank (reading the prep, instances, backgrounds), paste_compose
(transform, placement, blending; pure), paste_image (one new image and its labels), paste_write (files).
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

from wood.console import track
from wood.dataset_config import load_dataset_config
from wood.errors import DataError
from wood.fsutil import write_json
from wood.outdir import atomic_output, check_replaceable
from wood.prep.dataset import FORMAT, MANIFEST, STATS
from wood.prep.formats.coco_layout import write_standard_layout
from wood.prep.paste.bank import build_bank, fits, pick_backgrounds, read_source
from wood.prep.paste.check import check_instances
from wood.prep.paste.config import PasteConfig
from wood.prep.paste.image import PasteJob, make_image
from wood.prep.paste.write import link_source, manifest_view, write_coco_train, write_new_image
from wood.prep.stats import compute_stats
from wood.prep.tree import write_previews
from wood.procs import die_with_parent

PARALLEL_FROM = 16
"""Below this many new images, worker processes cost more than they save."""


def run_paste(cfg: PasteConfig) -> dict:
    """Write ``cfg.out`` from the prepared folder ``cfg.prep``. Returns the stats dict (also in stats.json).

    Options and inputs are checked before anything is written, and the output is built in a temporary
    folder renamed into place (wood.outdir), so a failure leaves no half-written output.
    """
    prep_dir = Path(os.path.abspath(cfg.prep.expanduser()))
    out = Path(os.path.abspath(cfg.out.expanduser()))
    check_replaceable(out, "prep", inputs=[prep_dir], follow_link=True)  # before reading anything
    source = read_source(prep_dir)
    if not any(r["instances"] for r in source.images("train")):
        raise DataError("the prep has no instances in its train split: nothing to paste", source.dataset.path)
    check_instances(prep_dir, source.images())  # the manifest's boxes are copied: they must be the masks'
    min_area = cfg.min_area if cfg.min_area is not None else int(source.dataset.options.get("min_area", 4))
    backgrounds, kind = pick_backgrounds(source, cfg.backgrounds)
    bank = build_bank(source, min_area, with_context=cfg.match_colour)
    if not bank:
        raise DataError(f"no train instance has >= {min_area} pixels (--min-area): nothing to paste", prep_dir)
    sizes = {(b.record["height"], b.record["width"]) for b in backgrounds}
    fitting = [c for c in bank if any(fits(c, h, w, cfg.scale[0], cfg.rot90) for h, w in sizes)]
    if not fitting:
        biggest = max(bank, key=lambda c: c.mask.size)
        h, w = biggest.mask.shape
        raise DataError(
            f"every train instance is larger than every background (at --scale {cfg.scale[0]}); "
            f"the largest is {w}x{h} px, from {biggest.source}",
            prep_dir,
        )
    job = PasteJob(source, fitting, backgrounds, cfg, min_area, _prefix(source), _first_id(source))

    with atomic_output(out, "prep", inputs=[prep_dir]) as tmp:
        link_source(tmp, source)
        new_records: list[dict] = []
        counts: Counter = Counter()
        for png, record, image_counts in track(_make_all(job, cfg.images, cfg.workers), "pasting", total=cfg.images):
            write_new_image(tmp, record, png)
            new_records.append(record)
            counts.update(image_counts)
        write_coco_train(tmp, source, new_records)
        write_standard_layout(tmp / "coco", tmp / "yolo" / "images")
        stats = compute_stats(source.images() + new_records, source.classes)
        stats["paste"] = _paste_stats(job, new_records, counts, kind, len(bank) - len(fitting))
        manifest = {
            "format": FORMAT,
            **{k: v for k, v in source.manifest.items() if k not in ("format", "images", "paste")},
            "paste": {
                "prep": str(prep_dir),
                "prep_manifest_sha256": source.manifest_sha256,
                "options": {**cfg.output_options(), "min_area": min_area},
                "backgrounds": kind,
                "previous": source.manifest.get("paste"),
            },
            "images": source.images() + [manifest_view(r) for r in new_records],
        }
        write_json(tmp / MANIFEST, manifest)
        write_json(tmp / STATS, stats)
        if cfg.preview:
            dataset = load_dataset_config(str(source.manifest.get("category", "")))
            write_previews(tmp / "preview", tmp / "yolo" / "images", new_records, cfg.preview, dataset, source.classes)
    return stats


def _make_all(job: PasteJob, count: int, workers: int) -> Iterator[tuple]:
    """make_image for every index, in order; in forked worker processes when it pays."""
    workers = workers or os.cpu_count() or 1
    if workers == 1 or count < PARALLEL_FROM:
        for index in range(count):
            yield make_image(job, index)
        return
    pool = ProcessPoolExecutor(
        max_workers=workers, mp_context=get_context("fork"), initializer=_init_worker, initargs=(job, os.getpid())
    )
    try:
        yield from pool.map(_work, range(count), chunksize=max(1, min(8, count // (workers * 4))))
    finally:  # on an error or Ctrl-C, queued work is cancelled rather than finished
        pool.shutdown(wait=True, cancel_futures=True)


_JOB: PasteJob | None = None


def _init_worker(job: PasteJob, parent_pid: int) -> None:
    """Worker initializer: the job is inherited through fork (not pickled)."""
    global _JOB
    _JOB = job
    die_with_parent(parent_pid)


def _work(index: int) -> tuple:
    if _JOB is None:
        raise RuntimeError("paste worker started without a job")
    return make_image(_JOB, index)


def _prefix(source) -> str:
    """A name prefix no image of the source has (``paste-``, or ``paste2-`` ... on a paste output)."""
    names = [r["name"] for r in source.images()]
    n = 1
    while any(name.startswith(f"paste{'' if n == 1 else n}-") for name in names):
        n += 1
    return f"paste{'' if n == 1 else n}-"


def _first_id(source) -> int:
    return max((int(r["id"]) for r in source.images()), default=0) + 1


def _paste_stats(job: PasteJob, records: list[dict], counts: Counter, kind: str, too_large: int) -> dict:
    """What the paste did: sources, backgrounds, instances pasted per class and what was skipped, and why."""
    per_class = Counter(p["class"] for r in records for p in r["paste"]["instances"])
    labelled = Counter(i["class"] for r in records for i in r["instances"] if i["paste"] is not None)
    return {
        "new_images": len(records),
        "backgrounds": kind,
        "background_images": len(job.backgrounds),
        "bank_instances": len(job.bank) + too_large,
        "bank_instances_per_class": dict(sorted(Counter(c.class_name for c in job.bank).items())),
        "instances_too_large": too_large,
        "pasted_per_class": {c: per_class.get(c, 0) for c in job.source.classes},
        "pasted_components_per_class": {c: labelled.get(c, 0) for c in job.source.classes},
        "skipped": {k: counts.get(k, 0) for k in ("too_small_after_transform", "no_room", "rounds_without_room")},
        "scale_kept_at_1_to_stay_connected": counts.get("scale_kept_at_1_to_stay_connected", 0),
        "covered_away": counts.get("covered_away", 0),
        "small_components_dropped": counts.get("small_components_dropped", 0),
        "classify_left_out_mixed": sum(r["defect"] == "mixed" for r in records),
    }
