"""The `wood` command line. Each command lives in wood/commands/<name>.py and registers itself.

Heavy libraries (torch, ultralytics, segment-anything) are imported inside the commands, so
`wood --help` is fast and importing this module has no side effects.
"""

from __future__ import annotations

import errno
import importlib
import sys

import typer

from wood.errors import WoodError

app = typer.Typer(
    help="Fine-tune YOLO, YOLO-World and Segment Anything on MVTec AD defect images, offline.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
finetune_app = typer.Typer(help="Fine-tune a model on a prepared dataset (see `wood prep`).", no_args_is_help=True)
eval_app = typer.Typer(help="Evaluate a run folder on a split of its prepared dataset.", no_args_is_help=True)
app.add_typer(finetune_app, name="finetune")
app.add_typer(eval_app, name="eval")

# Modules under wood/commands that define commands; each has register(app, finetune_app, eval_app).
COMMAND_MODULES = ["synth", "prep", "yolo", "classify", "sam", "demo", "report"]


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show the full traceback on errors."),
) -> None:
    """wood: MVTec AD masks -> YOLO/COCO, fine-tuning and evaluation, all offline."""


for _name in COMMAND_MODULES:
    importlib.import_module(f"wood.commands.{_name}").register(app, finetune_app, eval_app)


def main(argv: list[str] | None = None) -> None:
    """Console entry point: user errors become one line on stderr and exit code 2; Ctrl-C prints
    `interrupted` and exits 130. ``--debug`` (tracebacks) is accepted anywhere on the line."""
    args, debug = split_debug(sys.argv[1:] if argv is None else argv)
    try:
        app(args=["--debug", *args] if debug else args, prog_name="wood")
    except WoodError as exc:
        if debug:
            raise
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except OSError as exc:
        if debug or exc.errno not in (errno.ENOSPC, errno.EDQUOT, errno.EACCES, errno.EROFS):
            raise
        print(f"error: {os_error_line(exc)}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    except SystemExit as exc:
        if _caused_by_interrupt(exc):  # typer turns Ctrl-C into a silent exit 130
            print("interrupted", file=sys.stderr)
        raise


def split_debug(args: list[str]) -> tuple[list[str], bool]:
    """Remove ``--debug`` wherever it stands before a ``--`` separator: (the other args, whether it was there)."""
    end = args.index("--") if "--" in args else len(args)
    kept = [a for a in args[:end] if a != "--debug"]
    return kept + list(args[end:]), len(kept) != end


def os_error_line(exc: OSError) -> str:
    """`<file>: <problem>` for an OSError. A full disk names the file being written (shutil.copyfile
    puts it in filename2, the source in filename); an error without any file name is just the problem."""
    name = exc.filename2 if exc.errno in (errno.ENOSPC, errno.EDQUOT) and exc.filename2 else exc.filename
    problem = exc.strerror or str(exc)
    return f"{name}: {problem}" if name else problem


def _caused_by_interrupt(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    for _ in range(8):  # SystemExit <- click Exit(130) <- KeyboardInterrupt
        if seen is None:
            return False
        if isinstance(seen, KeyboardInterrupt):
            return True
        seen = seen.__cause__ or seen.__context__
    return False
