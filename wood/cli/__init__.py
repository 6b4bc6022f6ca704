"""The `wood` command line. Each command lives in wood/cli/commands/<name>.py and registers itself.

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
COMMAND_MODULES = ["synth", "prep", "paste", "yolo", "classify", "sam", "export", "demo", "report", "anomaly"]
COMMAND_MODULES += ["label", "labels_import"]  # the labelling loop: wood label, wood import


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show the full traceback on errors."),
) -> None:
    """wood: MVTec AD masks -> YOLO/COCO, fine-tuning and evaluation, all offline."""


for _name in COMMAND_MODULES:
    importlib.import_module(f"wood.cli.commands.{_name}").register(app, finetune_app, eval_app)


def main(argv: list[str] | None = None) -> None:
    """Console entry point: user errors, click's usage errors included, become one line on stderr
    and exit code 2; Ctrl-C prints `interrupted` and exits 130. ``--debug`` (tracebacks) is accepted
    anywhere on the line."""
    args, debug = split_debug(sys.argv[1:] if argv is None else argv)
    try:
        code = app(args=["--debug", *args] if debug else args, prog_name="wood", standalone_mode=False)
    except WoodError as exc:
        if debug:
            raise
        print(f"error: {one_line(str(exc))}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except OSError as exc:
        if debug or exc.errno not in USER_OS_ERRORS:
            raise
        print(f"error: {os_error_line(exc)}", file=sys.stderr)
        sys.exit(2)
    except (KeyboardInterrupt, typer.Abort):  # click reports Ctrl-C as Abort outside standalone mode
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    except Exception as exc:
        if not is_usage_error(exc):
            raise
        if type(exc).__name__ != "NoArgsIsHelpError":  # that one has printed the help already
            print(f"error: {usage_line(exc)}", file=sys.stderr)
        sys.exit(exc.exit_code)
    if code == 130:  # typer turns Ctrl-C into a silent exit code 130
        print("interrupted", file=sys.stderr)
    sys.exit(code if isinstance(code, int) else 0)  # as click's standalone mode does


USER_OS_ERRORS = (errno.ENOSPC, errno.EDQUOT, errno.EACCES, errno.EROFS, errno.ENAMETOOLONG, errno.ELOOP)
"""OSErrors a user's disk or path causes: one line, exit 2 (any other OSError is a bug: a traceback)."""


def one_line(text: str) -> str:
    """``text`` with its line breaks (a YAML parser's two-line message) folded into one line."""
    return " ".join(text.split())


def is_usage_error(exc: BaseException) -> bool:
    """A click usage error (bad option value, unknown option or command). typer vendors click, so the
    class is matched by its interface rather than imported from a private module."""
    return callable(getattr(exc, "format_message", None)) and isinstance(getattr(exc, "exit_code", None), int)


def usage_line(exc: BaseException) -> str:
    """`<command>: <problem> (see <command> --help)` on one line, instead of click's usage box."""
    ctx = getattr(exc, "ctx", None)
    command = ctx.command_path if ctx is not None else "wood"
    message = " ".join(exc.format_message().split())
    return f"{command}: {message} (see `{command} --help`)"


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
    if name is not None and len(str(name)) > 200:  # an over-long path: its start and end say which
        name = f"{str(name)[:100]}...{str(name)[-60:]}"
    return one_line(f"{name}: {problem}" if name else problem)
