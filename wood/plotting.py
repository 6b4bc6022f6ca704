"""matplotlib for files, never a window: the one place wood picks the Agg backend.

`pyplot()` imports matplotlib lazily (it costs ~0.5 s) and selects Agg without forcing it, so a
backend the caller chose before stays. Every plotting module calls it instead of importing
``matplotlib.pyplot`` at the top.
"""

from __future__ import annotations

from typing import Any


def pyplot() -> Any:
    """``matplotlib.pyplot`` on the Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig: Any, target: Any) -> None:
    """Write ``fig`` as PNG to ``target`` (a path or a binary file object) and close it."""
    try:
        fig.savefig(target, format="png")
    finally:
        pyplot().close(fig)
