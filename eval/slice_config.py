"""The five ``--slice*`` options of `wood eval detect`, `wood eval segment` and `wood predict`: one group.

A config of those commands holds one ``slicing: SliceConfig`` field; wood/cli/options.py shows its
fields as options in that field's place. Each field is None when not given: the checks (and the
defaults of an option not given) are :func:`wood.eval.slicing.slice_settings`', run by
:meth:`SliceConfig.settings` where each command checked them before.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from wood.config import option

if TYPE_CHECKING:
    from wood.eval.slicing import SliceSettings


@dataclass
class SliceConfig:
    """Sliced inference (sahi): the options as given, None where not given."""

    slice_size: int | None = option(
        "Sliced inference (sahi): predict S x S px slices of each full image and merge the boxes "
        "(boxes only; >= 32 and <= the image side). Off when not given.",
        None,
        flag="--slice",
        default_text=False,
    )
    slice_overlap: float | None = option(
        "With --slice: overlap of neighbouring slices, a fraction in [0, 0.9).", None, default_text="0.2"
    )
    slice_full: bool | None = option(
        "With --slice: add one whole-image pass (large objects).", None, default_text="slice-full"
    )
    slice_merge: str | None = option(
        "With --slice: nms (keep the best of boxes at IoU > 0.5) or nmm (sahi's greedy merge of boxes "
        "overlapping > 0.5 of the smaller one into their union).",
        None,
        default_text="nms",
    )
    slice_drop_cut: bool | None = option(
        "With --slice and --slice-full: drop a slice's boxes that touch a slice border inside the image "
        "(fragments of an object longer than the slice; a neighbouring slice or the whole-image pass sees it whole).",
        None,
        default_text="on with --slice-full",
    )

    def settings(self) -> SliceSettings | None:
        """The checked slice settings (None without --slice); a ConfigError names the bad option."""
        from wood.eval.slicing import slice_settings

        return slice_settings(
            self.slice_size, self.slice_overlap, self.slice_full, self.slice_merge, self.slice_drop_cut
        )
