"""Running `wood ARGV` in-process through the real entry point, as a user's shell would."""

from __future__ import annotations


def run_cli(argv: list, capsys) -> tuple[int, str]:
    """Run `wood ARGV` through wood.cli.main; returns (exit code, stderr)."""
    from wood.cli import main

    capsys.readouterr()
    try:
        main([str(a) for a in argv])
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return code, capsys.readouterr().err
