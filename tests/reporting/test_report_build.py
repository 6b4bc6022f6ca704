"""`wood report`: both files from realistic run folders, a row per run in every table, broken runs
reported (not fatal), a one-line error only when nothing is usable, and the helpers' exact values."""

from __future__ import annotations

import json
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest
from _report_fixtures import built_report, report_runs  # noqa: F401 - session fixtures

from wood.cli import main


class Tables(HTMLParser):
    """Every <table> of a page as {caption: [row texts]} (body rows only), plus the <img> sources."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[str]] = {}
        self.images: list[str] = []
        self.links: list[str] = []
        self._caption: list[str] | None = None
        self._current: str | None = None
        self._row: list[str] | None = None
        self._in_body = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table":
            self._current = f"table {len(self.tables) + 1}"
            self.tables[self._current] = []
        elif tag == "caption":
            self._caption = []
        elif tag == "tbody":
            self._in_body = True
        elif tag == "tr" and self._in_body:
            self._row = []
        elif tag == "img":
            self.images.append(attrs.get("src", ""))
        elif tag in ("a", "link", "script"):
            self.links.append(f"{tag}:{attrs.get('href') or attrs.get('src') or ''}")

    def handle_endtag(self, tag):
        if tag == "caption" and self._caption is not None:
            caption = "".join(self._caption).strip()
            self.tables[caption] = self.tables.pop(self._current)
            self._current, self._caption = caption, None
        elif tag == "tbody":
            self._in_body = False
        elif tag == "tr" and self._row is not None:
            self.tables[self._current].append(" ".join(self._row))
            self._row = None

    def handle_data(self, data):
        if self._caption is not None:
            self._caption.append(data)
        if self._row is not None:
            self._row.append(data)


def run_cli(args: list[str], capsys) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(["report", *args])
        raise SystemExit(0)
    captured = capsys.readouterr()
    return exc.value.code or 0, captured.out, captured.err


def parse(html_path: Path) -> Tables:
    parser = Tables()
    parser.feed(html_path.read_text(encoding="utf-8"))
    return parser


def rows_naming(rows: list[str], name: str) -> list[str]:
    return [r for r in rows if re.search(rf"(^|\s){re.escape(name)}(\s|$)", r)]


@pytest.fixture
def built(built_report):  # noqa: F811 - the imported session fixture
    return built_report["code"], built_report["stdout"], built_report["stderr"], built_report["out"]


def test_report_writes_markdown_and_self_contained_html(built):
    code, stdout, _, out = built
    assert code == 0
    assert (out / "report.md").is_file() and (out / "report.html").is_file()
    assert str(out / "report.html") in stdout
    page = parse(out / "report.html")
    assert page.images and all(src.startswith("data:image/png;base64,") for src in page.images)
    assert len(page.images) >= 8  # class counts, GT overlays, PR curves, loss curves, SAM best/worst, confusion
    text = (out / "report.html").read_text(encoding="utf-8")
    assert "<script" not in text and "@import" not in text and "url(" not in text
    assert not [link for link in page.links if re.match(r"\w+:(https?:)?//", link)]  # nothing fetched from a network
    md = (out / "report.md").read_text(encoding="utf-8")
    linked = re.findall(r"!\[[^\]]*\]\((images/[^)]+)\)", md)
    assert linked and all((out / rel).is_file() for rel in linked)


def test_every_table_has_a_row_for_each_run(built, report_runs):
    _, _, _, out = built
    tables = parse(out / "report.html").tables
    detection = tables["Detection runs"]
    assert len(detection) == 2
    for run in report_runs["yolo"]:
        assert len(rows_naming(detection, run.name)) == 1
        assert (
            len(rows_naming(tables["Per-class AP (COCO): AP50 / AP50-95 (n = ground-truth instances)"], run.name)) == 1
        )
    assert "YOLO-World" in rows_naming(detection, "world")[0]
    sam = tables["SAM runs"]
    assert len(sam) == 1 and "lora r=4" in sam[0] and "25.237%" in sam[0]  # trainable share from metrics.json params
    per_class = tables["Per-class IoU / Dice"]
    assert len(per_class) == 2 and "GT boxes" in per_class[0] and "detector detect" in per_class[1]
    five = next(v for k, v in tables.items() if k.startswith("Five-attempt table"))
    assert [r.split()[0] + " " + r.split()[1] for r in five][:2] == ["Baseline Simple", "Attempt 1"]
    assert len(five) == 5 and sum("skipped: no pretrained weights" in r for r in five) == 2
    for run in report_runs["classify"]:
        assert len(rows_naming(five, run.name)) == 1  # ok rows name their run folder
    overview = tables["All runs"]
    names = [p.name for p in report_runs["yolo"] + report_runs["sam"] + report_runs["classify"]]
    assert len(overview) == len(names)
    for name in names:
        assert len(rows_naming(overview, name)) == 1


def test_numbers_are_the_run_folders_numbers_with_their_config(built, report_runs):
    _, _, _, out = built
    detect = report_runs["yolo"][0]
    ev = json.loads((detect / "eval-test" / "eval_detect.json").read_text(encoding="utf-8"))
    row = rows_naming(parse(out / "report.html").tables["Detection runs"], "detect")[0]
    assert f"{ev['coco']['bbox']['mAP50']:.3f}" in row and f"{ev['coco']['bbox']['mAP50-95']:.3f}" in row
    assert str(detect) in row and "config.yaml" in row
    ins = ev["inspection"]
    assert f"({round(ins['false_alarm_rate'] * ins['good_images'])}/{ins['good_images']})" in row
    assert "12.5 s" in row and "cpu" in row  # cost columns: train_seconds and the config's device
    overview = rows_naming(parse(out / "report.html").tables["All runs"], "detect")[0]
    assert "0.813" in overview and "0.687" in overview  # the eval's anomaly_scale: image / pixel AUROC
    html = (out / "report.html").read_text(encoding="utf-8")
    href = re.search(r'<b>detect</b> <a href="([^"]+)">config.yaml</a>', html).group(1)
    assert (out / href).resolve() == (detect / "config.yaml").resolve()


def test_run_without_metrics_is_a_clear_message_not_a_crash(built, report_runs):
    _, _, stderr, out = built
    interrupted = report_runs["interrupted"]
    assert "no metrics.json" in stderr and str(interrupted) in stderr.replace("\n", "")
    md = (out / "report.md").read_text(encoding="utf-8")
    section = md.split("## Runs not included", 1)[1]
    assert f"{interrupted}: no metrics.json" in section
    assert "interrupted" not in "\n".join(parse(out / "report.html").tables["All runs"])


def test_unevaluated_run_and_missing_prepared_folder_are_explained(report_runs, tmp_path, capsys):
    run = tmp_path / "runs" / "detect"
    shutil.copytree(report_runs["yolo"][0], run)
    shutil.rmtree(run / "eval-test")
    code, _, _ = run_cli(
        [str(run), "--prepared", str(tmp_path / "gone"), "--out", str(tmp_path / "r"), "--samples", "0"], capsys
    )
    assert code == 0
    md = (tmp_path / "r" / "report.md").read_text(encoding="utf-8")
    assert f"wood eval detect --run {run}" in md
    assert f"Prepared dataset folder {tmp_path / 'gone'} does not exist" in md
    assert "not evaluated" in md and "0.300 (training val)" in md  # Ultralytics' val mAP50 from metrics.json


def test_no_usable_run_is_one_line_error(report_runs, tmp_path, capsys):
    code, _, err = run_cli([str(report_runs["interrupted"]), "--out", str(tmp_path / "r")], capsys)
    lines = [line for line in err.splitlines() if line.strip() and not line.startswith("skipped")]
    assert code == 2
    assert len(lines) == 1 and lines[0].startswith("error: ") and "no usable run folder" in lines[0]
    assert "no metrics.json" in lines[0] and not (tmp_path / "r").exists()
    code, _, err = run_cli([str(tmp_path / "typo"), "--out", str(tmp_path / "r")], capsys)
    assert code == 2 and err.strip() == f"error: {tmp_path / 'typo'}: run folder does not exist"
    code, _, err = run_cli(["--out", str(tmp_path / "r")], capsys)
    assert code == 2 and "pass RUN_DIRS or --runs-root" in err


def test_broken_json_and_moved_experiments_folder(report_runs, tmp_path, capsys):
    moved = tmp_path / "moved"
    shutil.copytree(report_runs["experiments"], moved)
    for png in moved.glob("runs/*/confusion_*.png"):
        png.unlink()  # the best run's matrix is then drawn from its metrics.json
    bad = tmp_path / "bad"
    shutil.copytree(report_runs["sam"][0], bad)
    (bad / "metrics.json").write_text("{not json", encoding="utf-8")
    bad_eval = tmp_path / "bad-eval"
    shutil.copytree(report_runs["sam"][0], bad_eval)
    (bad_eval / "eval-test" / "segment_metrics.json").write_text("[", encoding="utf-8")
    code, _, err = run_cli(
        [str(moved), str(bad), str(bad_eval), "--out", str(tmp_path / "r"), "--samples", "1"], capsys
    )
    assert code == 0
    assert f"{bad}: metrics.json is not readable JSON (JSONDecodeError" in err
    md = (tmp_path / "r" / "report.md").read_text(encoding="utf-8").split("## Runs not included", 1)[1]
    assert f"{bad}: metrics.json is not readable JSON" in md
    assert f"{bad_eval}: eval-test/segment_metrics.json: segment_metrics.json is not readable JSON" in md
    tables = parse(tmp_path / "r" / "report.html").tables
    sam = tables["SAM runs"]
    assert len(sam) == 1 and "bad-eval" in sam[0]  # still reported, with its detector-box eval only
    five = next(v for k, v in tables.items() if k.startswith("Five-attempt table"))
    assert sum(str(moved / "runs") in r for r in five) == 3  # rows found their runs under the moved folder
    assert len(list((tmp_path / "r" / "images").glob("confusion_*.png"))) == 1


def test_helpers_exact_values():
    from wood.reporting.format import count, duration, num, pct
    from wood.runs import guess_kind as run_kind

    assert [duration(None), duration(12.34), duration(300), duration(9000)] == ["–", "12.3 s", "5.0 min", "2.5 h"]
    assert [count(147456), count(11179590), pct(0.0015737, 3), num(None), num(0.51234)] == [
        "147,456",
        "11.2M",
        "0.157%",
        "–",
        "0.512",
    ]
    assert run_kind({"task": "detect", "world": False}, None) == "yolo"
    assert run_kind({"adapter": "lora", "lora_r": 4}, None) == "sam"
    assert run_kind({"arch": "resnet18", "strategy": "scratch"}, None) == "classify"
    assert run_kind({}, {"params": {}, "history": []}) == "sam"
    assert run_kind({}, {"foo": 1}) == "unknown"


def test_sliced_eval_and_tiled_training_sit_beside_the_untiled_row(report_runs, tmp_path, capsys):
    import yaml

    run = tmp_path / "runs" / "tiled"
    shutil.copytree(report_runs["yolo"][0], run)
    tiled_prep = tmp_path / "tiled-prep"  # only what the report reads of the training data: manifest.json's tile
    tiled_prep.mkdir()
    tile = {
        "size": 256,
        "overlap": 0.25,
        "min_visible": 0.3,
        "background": 1,
        "keep_full": True,
        "splits": ["train", "val"],
    }
    (tiled_prep / "manifest.json").write_text(json.dumps({"tile": tile, "images": []}), encoding="utf-8")
    for name in ("config.yaml", "run_info.json", "metrics.json"):
        path = run / name
        data = (yaml.safe_load if name.endswith("yaml") else json.loads)(path.read_text(encoding="utf-8"))
        data["data"] = str(tiled_prep)
        path.write_text(yaml.safe_dump(data) if name.endswith("yaml") else json.dumps(data), encoding="utf-8")
    ev = json.loads((run / "eval-test" / "eval_detect.json").read_text(encoding="utf-8"))
    (run / "eval-test" / "eval_detect.json").write_text(
        json.dumps(ev | {"slice": None, "inference_ms_per_image": 12.34}), encoding="utf-8"
    )
    record = {"size": 128, "overlap": 0.2, "full_image_pass": True, "merge": "nmm", "drop_cut": True, "engine": "sahi"}
    sliced = ev | {"slice": record, "inference_ms_per_image": 98.76}
    sliced["coco"]["bbox"] = ev["coco"]["bbox"] | {"APs": 0.4321}
    (run / "eval-test-slice128").mkdir()
    (run / "eval-test-slice128" / "eval_detect.json").write_text(json.dumps(sliced), encoding="utf-8")
    plain = report_runs["yolo"][0]  # untiled, evaluated before inference times were recorded
    code, _, err = run_cli([str(run), str(plain), "--out", str(tmp_path / "r"), "--samples", "0"], capsys)
    assert code == 0, err
    rows = parse(tmp_path / "r" / "report.html").tables["Detection runs"]
    tiled_rows = rows_naming(rows, "tiled")
    assert len(tiled_rows) == 2 and len(rows) == 3
    whole, sliced_row = tiled_rows  # whole images first
    assert "256 px, overlap 0.25, + full images" in whole and "12.3" in whole and "128 px" not in whole
    assert "128 px, overlap 0.2, + full, nmm, drop cut" in sliced_row and "98.8" in sliced_row and "0.432" in sliced_row
    untiled = [r for r in rows if r not in tiled_rows][0]
    assert " none none " in f" {untiled} "  # tile none (full-image training data), slice none
    md = (tmp_path / "r" / "report.md").read_text(encoding="utf-8")
    assert "tile (training data)" in md and "slice (inference)" in md and "ms / image" in md
