"""One source per option: commands built from their config dataclasses (wood/cli/options.py).

`--help` shows every field with its dataclass default, the shared ideas have one spelling
everywhere, the command line beats a --config YAML which beats the dataclass default, and
every demo config goes through the one loader (a typo is one ConfigError line).
"""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass, field
from typing import Any

import pytest
import typer
import yaml
from typer.testing import CliRunner

from wood.cli import main
from wood.cli.demo_config import DemoConfig
from wood.cli.options import cli_fields, config_command, expand_fields, flag_names
from wood.config import build_config, option
from wood.deploy.export.config import ExportConfig
from wood.deploy.predict_config import PredictConfig
from wood.device import device_help
from wood.errors import ConfigError
from wood.eval.anomaly.config import EvalAnomalyConfig
from wood.eval.classify_config import EvalClassifyConfig
from wood.eval.detect.config import EvalDetectConfig
from wood.eval.segment.config import EvalSegmentConfig
from wood.finetune.anomaly.config import AnomalyConfig
from wood.finetune.classify.config import ClassifyConfig, ExperimentsConfig
from wood.finetune.sam.config import SamTrainConfig
from wood.finetune.yolo.config import YoloConfig
from wood.prep.config import PrepConfig
from wood.prep.paste.config import PasteConfig
from wood.prep.synth.config import SynthConfig
from wood.reporting.config import ReportConfig

COMMANDS = {  # command line -> (config dataclass, fields that are positional arguments)
    ("finetune", "yolo"): (YoloConfig, ()),
    ("finetune", "sam"): (SamTrainConfig, ()),
    ("finetune", "classify"): (ClassifyConfig, ()),
    ("experiments", "classify"): (ExperimentsConfig, ()),
    ("prep",): (PrepConfig, ("source",)),
    ("paste",): (PasteConfig, ("prep",)),
    ("synth",): (SynthConfig, ("out",)),
}
RETIRED = ("--batch-size", "--image-size", "--overwrite", "--force")  # the old spellings of shared ideas


def help_rows(command: tuple[str, ...], capsys, monkeypatch) -> dict[str, str]:
    """``wood <command> --help`` as {first flag or argument name: the row's text, wraps joined}."""
    monkeypatch.setattr("typer.rich_utils.MAX_WIDTH", 250)
    monkeypatch.setenv("COLUMNS", "250")
    with pytest.raises(SystemExit) as exc:
        main([*command, "--help"])
    assert exc.value.code in (0, None)
    rows: dict[str, str] = {}
    key = None
    for line in capsys.readouterr().out.splitlines():
        start = re.match(r"^│\s{1,6}(?:\*\s+)?(--[\w-]+|[a-z_]+)(?:\.\.\.)?\s", line)
        if start:
            key = start.group(1)
            rows[key] = ""
        if key is not None and line.startswith("│"):
            rows[key] += " " + line.strip("│ ")
        elif not line.startswith("│"):
            key = None
    return {k: " ".join(v.split()) for k, v in rows.items()}


def expected_default(f: dataclasses.Field) -> str | None:
    """What `--help` must show for field ``f``: ``[default: value]`` as the command line spells it, a
    description in parentheses where the default is None, or None where the field is required."""
    if "default_text" in f.metadata:
        return f"[default: ({f.metadata['default_text']})]"
    if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
        return None
    value = f.default if f.default is not dataclasses.MISSING else f.default_factory()
    if value is None:
        return "[default: (none)]"
    if isinstance(value, bool):
        flag = flag_names(f)[0][2:]
        return f"[default: {flag if value else 'no-' + flag}]"

    def spell(v: Any) -> str:
        return format(v, "g") if isinstance(v, float) else str(v)

    shown = ",".join(map(spell, value)) if isinstance(value, (list, tuple)) else spell(value)
    return f"[default: {shown}]"


@pytest.mark.parametrize("command", list(COMMANDS), ids=" ".join)
def test_help_shows_every_field_with_its_dataclass_default(command, capsys, monkeypatch):
    cls, arguments = COMMANDS[command]
    rows = help_rows(command, capsys, monkeypatch)
    for f in cli_fields(cls):
        key = f.name if f.name in arguments else flag_names(f)[0]
        assert key in rows, f"wood {' '.join(command)} --help has no {key} (field {f.name})"
        row = rows[key]
        assert f.metadata["help"].split()[0].strip("`.,;:").lower() in row.lower(), (key, row)
        shown = expected_default(f)
        if shown is None:
            assert "[required]" in row or "Required, here or in --config." in row, (key, row)
        else:
            assert shown in row, f"{key}: expected {shown} in {row!r}"
        for choice in f.metadata.get("choices", ()):
            assert choice in row, (key, choice)
    fields = {flag for f in cli_fields(cls) for flag in flag_names(f)} | {"--config", "--help"}
    options = {k for k in rows if k.startswith("--")}
    assert options <= fields, f"options that are no field: {options - fields}"


def test_config_only_fields_are_not_options(capsys, monkeypatch):
    assert "train_args" not in {f.name for f in cli_fields(YoloConfig)}
    assert "--train-args" not in help_rows(("finetune", "yolo"), capsys, monkeypatch)


@pytest.mark.parametrize("command", list(COMMANDS), ids=" ".join)
def test_shared_ideas_have_one_spelling(command, capsys, monkeypatch):
    rows = help_rows(command, capsys, monkeypatch)
    assert not set(RETIRED) & set(rows), set(RETIRED) & set(rows)
    assert "--config" in rows and "--seed" in rows
    if command[0] == "finetune":
        for flag in ("--data", "--epochs", "--batch", "--imgsz", "--device", "--out", "--name", "--exist-ok"):
            assert flag in rows, (command, flag)
    if command in (("prep",), ("paste",)):
        assert "--out" in rows


def test_one_device_help_everywhere(capsys, monkeypatch):
    for command in (
        ("finetune", "sam"),
        ("finetune", "classify"),
        ("eval", "segment"),
        ("eval", "classify"),
        ("eval", "detect"),
        ("predict",),
    ):
        assert device_help() in help_rows(command, capsys, monkeypatch)["--device"], command
        assert "[default: auto]" in help_rows(command, capsys, monkeypatch)["--device"], command
    assert device_help(multi=True) in help_rows(("finetune", "yolo"), capsys, monkeypatch)["--device"]


def test_device_values_are_checked_alike():
    for cls, extra in ((YoloConfig, {"data": "d"}), (SamTrainConfig, {"data": "d"}), (ClassifyConfig, {"data": "d"})):
        assert build_config(cls, **extra).device == "auto"
        for device in ("auto", "cpu", "cuda", "0", "cuda:1"):
            assert build_config(cls, device=device, **extra).device == device
        with pytest.raises(ConfigError, match="device must be"):
            build_config(cls, device="gpu", **extra)
    assert build_config(YoloConfig, data="d", device="0,1").device == "0,1"  # Ultralytics DDP
    with pytest.raises(ConfigError, match="device must be"):
        build_config(SamTrainConfig, data="d", device="0,1")


def test_renamed_keys_of_older_config_files_still_load(tmp_path):
    (tmp_path / "old.yaml").write_text("data: d\nimage_size: 64\nbatch_size: 2\nmodel: tiny\n")
    cfg = build_config(SamTrainConfig, tmp_path / "old.yaml")
    assert (cfg.imgsz, cfg.batch) == (64, 2)
    (tmp_path / "synth.yaml").write_text("force: true\n")
    assert build_config(SynthConfig, tmp_path / "synth.yaml", out="o").exist_ok is True


@dataclass
class Toy:
    name: str = field(default="plain", metadata={"help": "a name"})
    flag: bool = field(default=False, metadata={"help": "a flag"})
    count: int = field(default=1, metadata={"help": "a count"})
    ratio: float = field(default=0.5, metadata={"help": "a ratio"})


def toy_app(seen: list) -> typer.Typer:
    app = typer.Typer()

    @app.command()
    @config_command(Toy)
    def run(cfg: Toy) -> None:
        seen.append(cfg)

    return app


def test_command_line_beats_yaml_beats_default(tmp_path):
    (tmp_path / "t.yaml").write_text("name: yaml\nflag: true\ncount: 7\n")
    seen: list[Toy] = []
    result = CliRunner().invoke(toy_app(seen), ["--config", str(tmp_path / "t.yaml"), "--count", "3", "--no-flag"])
    assert result.exit_code == 0, result.output
    # --count and --no-flag (the dataclass default, given on purpose) beat the file; name from the file; ratio default
    assert seen == [Toy(name="yaml", flag=False, count=3, ratio=0.5)]
    result = CliRunner().invoke(toy_app(seen), ["--ratio", "0.25"])
    assert result.exit_code == 0, result.output
    assert seen[-1] == Toy(ratio=0.25)


def test_prep_config_file_with_options(tmp_path, capsys):
    from wood.prep.synth.write import write_synth

    src = write_synth(tmp_path / "wood", size=64, per_defect=2, good=1, train_good=1)
    (tmp_path / "p.yaml").write_text(yaml.safe_dump({"seed": 3, "val_fraction": 0.2, "out": str(tmp_path / "yaml")}))
    with pytest.raises(SystemExit) as exc:
        main(
            [
                "prep",
                str(src),
                "--config",
                str(tmp_path / "p.yaml"),
                "--seed",
                "5",
                "--workers",
                "1",
                "--out",
                str(tmp_path / "cli"),
            ]
        )
    assert exc.value.code in (0, None), capsys.readouterr().err
    manifest = json.loads((tmp_path / "cli" / "manifest.json").read_text())
    assert manifest["seed"] == 5  # the command line beats the file
    assert manifest["options"]["val_fraction"] == 0.2  # the file beats the default (0.15)
    assert manifest["options"]["min_area"] == PrepConfig.min_area == 4  # the default where neither gives it
    assert not (tmp_path / "yaml").exists()


def test_a_yaml_typo_is_one_config_error_line(tmp_path, capsys):
    (tmp_path / "p.yaml").write_text("seeed: 3\n")
    with pytest.raises(SystemExit) as exc:
        main(["prep", str(tmp_path), "--config", str(tmp_path / "p.yaml")])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and err.count("\n") == 1 and "p.yaml" in err and "seeed" in err, err


def test_a_missing_required_field_is_one_line(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["finetune", "sam"])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and err.count("\n") == 1 and "--data" in err, err


DEMO_WHERE = {"out": "o", "data": "d", "name": "n"}  # what the demo fills in (build_config ignores keys a class lacks)


@pytest.mark.parametrize("stage", ["synth", "prep", "yolo", "world", "sam", "classify"])
def test_demo_configs_load_through_the_one_loader(stage, tmp_path):
    from wood.cli.demo import demo_config, stage_config, stage_config_classes

    cfg = stage_config(stage, **DEMO_WHERE)
    assert isinstance(cfg, stage_config_classes()[stage])
    text = demo_config(stage).read_text(encoding="utf-8")
    (tmp_path / f"demo_{stage}.yaml").write_text(text + "\nimgsx: 64\n", encoding="utf-8")
    with pytest.raises(ConfigError) as exc:
        stage_config(stage, tmp_path, **DEMO_WHERE)
    line = str(exc.value)
    assert "\n" not in line and f"demo_{stage}.yaml" in line and "imgsx" in line, line


def test_a_demo_typo_stops_the_demo_at_once(tmp_path):
    from wood.cli.demo import run_demo

    configs = tmp_path / "configs"
    configs.mkdir()
    (configs / "demo_synth.yaml").write_text("size: 64\nper_defekt: 2\n")
    with pytest.raises(ConfigError, match=r"demo_synth\.yaml: unknown key\(s\) \['per_defekt'\]"):
        run_demo(tmp_path / "demo", configs=configs)


# ---------------------------------------------------------------- the field helper, groups, CLI-only commands
def test_option_is_a_field_with_help_and_metadata():
    @dataclass
    class C:
        need: str = option("must be given")
        size: int = option("a size", 3, flag="--sz", choices=(3, 5))
        names: list[str] = option("some names", default_factory=lambda: ["a"])

    need, size, names = dataclasses.fields(C)
    assert need.default is dataclasses.MISSING and need.default_factory is dataclasses.MISSING
    assert need.metadata == {"help": "must be given"}
    assert size.default == 3 and dict(size.metadata) == {"help": "a size", "flag": "--sz", "choices": (3, 5)}
    assert names.default_factory() == ["a"] and C(need="x").names == ["a"] and C(need="y").names is not C("z").names
    with pytest.raises(TypeError):
        C()  # no default: required


CLI_ONLY = {  # commands without --config, built from a dataclass: (config, positional arguments)
    ("eval", "detect"): (EvalDetectConfig, ()),
    ("eval", "segment"): (EvalSegmentConfig, ()),
    ("eval", "classify"): (EvalClassifyConfig, ("run",)),
    ("eval", "anomaly"): (EvalAnomalyConfig, ()),
    ("predict",): (PredictConfig, ("images",)),
    ("export",): (ExportConfig, ()),
    ("report",): (ReportConfig, ("run_dirs",)),
    ("demo",): (DemoConfig, ()),
}


@pytest.mark.parametrize("command", list(CLI_ONLY), ids=" ".join)
def test_commands_without_config_file_show_their_dataclass_defaults(command, capsys, monkeypatch):
    cls, arguments = CLI_ONLY[command]
    rows = help_rows(command, capsys, monkeypatch)
    fields, _ = expand_fields(cls)
    for name, (f, _hints) in fields.items():
        key = name if name in arguments else flag_names(f)[0]
        assert key in rows, f"wood {' '.join(command)} --help has no {key}"
        row = rows[key]
        assert f.metadata["help"].split()[0].strip("`.,;:").lower() in row.lower(), (key, row)
        if f.metadata.get("default_text") is False:
            assert "[default:" not in row, (key, row)
        elif expected_default(f) is None:  # no --config to give it instead: click requires it
            assert "[required]" in row and "--config" not in row, (key, row)
        elif not (f.type == "bool" and f.metadata.get("negatable") is False):  # a plain flag shows no default
            assert expected_default(f) in row, f"{key}: expected {expected_default(f)} in {row!r}"
    assert "--config" not in rows
    flags = {g for f, _ in fields.values() for g in flag_names(f)} | {"--help"}
    assert {k for k in rows if k.startswith("--")} <= flags


def test_the_slice_options_are_one_group_in_their_place(capsys, monkeypatch):
    for command in (("eval", "detect"), ("eval", "segment"), ("predict",)):
        rows = [k for k in help_rows(command, capsys, monkeypatch) if k.startswith("--slice")]
        assert rows == ["--slice", "--slice-overlap", "--slice-full", "--slice-merge", "--slice-drop-cut"], command
    order = list(help_rows(("predict",), capsys, monkeypatch))
    assert order.index("--prompt") < order.index("--slice") < order.index("--slice-drop-cut") < order.index("--coco")


@dataclass
class Inner:
    depth: int | None = option("a depth", None, default_text="2")
    wide: bool | None = option("wide or not", None, default_text="wide")


@dataclass
class Outer:
    where: str = option("where to go")
    tags: list[str] | None = option("a tag (repeatable)", None, multiple=True, default_text=False)
    inner: Inner = option("the inner options", default_factory=Inner)
    half: bool = option("a plain flag", False, negatable=False)


def test_a_group_repeatable_option_and_plain_flag_parse_into_the_dataclass(capsys):
    seen: list[Outer] = []
    app = typer.Typer()

    @app.command()
    @config_command(Outer, config=False)
    def run(cfg: Outer) -> None:
        seen.append(cfg)

    args = ["--where", "x", "--tags", "a", "--tags", "b", "--depth", "4", "--no-wide", "--half"]
    assert CliRunner().invoke(app, args).exit_code == 0
    assert seen[-1] == Outer(where="x", tags=["a", "b"], inner=Inner(depth=4, wide=False), half=True)
    assert CliRunner().invoke(app, ["--where", "y"]).exit_code == 0
    assert seen[-1] == Outer(where="y")  # nothing given: the group's and the fields' defaults
    missing = CliRunner().invoke(app, [])
    assert missing.exit_code == 2 and "Missing option '--where'" in missing.output
    assert "--no-half" not in CliRunner().invoke(app, ["--help"], env={"COLUMNS": "200"}).output


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["eval", "classify", "RUN", "--split", "dev"], "split must be train, val or test, but got 'dev'"),
        (["finetune", "classify", "--data", "d", "--epochs", "0"], "epochs must be an integer >= 1"),
        (["finetune", "yolo", "--data", "d", "--imgsz", "100"], "imgsz must be a multiple of 32"),
        (["finetune", "sam", "--data", "d", "--model", "tiny", "--threads", "0"], "threads must be >= 1"),
        (["finetune", "anomaly", "--data", "d", "--coreset", "2"], "coreset must be in (0, 1]"),
        (["eval", "detect", "--slice-overlap", "0.3"], "--slice-overlap needs --slice SIZE"),
    ],
)
def test_a_bad_config_value_is_one_config_error_line(argv, needle, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    err = capsys.readouterr().err
    assert exc.value.code == 2 and err.count("\n") == 1 and err.startswith("error: ") and needle in err, err


@pytest.mark.parametrize(
    "cls, values",
    [
        (YoloConfig, {"data": "d", "epochs": 0}),
        (SamTrainConfig, {"data": "d", "lr": -1.0}),
        (ClassifyConfig, {"data": "d", "arch": "vgg"}),
        (AnomalyConfig, {"data": "d", "sigma": -1.0}),
        (EvalClassifyConfig, {"run": "r", "split": "dev"}),
    ],
)
def test_configs_refuse_bad_values_with_config_error(cls, values):
    with pytest.raises(ConfigError):
        cls(**values)
