"""Seeded, stratified, leakage-free train/val/test splits.

Images are split in GROUPS: every image of a group lands in the same split. Groups are
built from identical bytes (same sha256) and, optionally, from a user file naming which
images derive from one original (for example augmented copies). Within each stratum (the
defect type, `good` included) groups are shuffled with a generator seeded by (seed, stratum)
and cut into test, val and train. The test fraction defaults to 1/3, which gives the common
2:1 train:test ratio; val is carved from the training side.
"""

from __future__ import annotations

import zlib
from collections import defaultdict
from dataclasses import dataclass

import numpy as np

SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class SplitSpec:
    """How to split. ``test_fraction`` of each stratum goes to test; ``val_fraction`` of the
    rest goes to val."""

    test_fraction: float = 1 / 3
    val_fraction: float = 0.15
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0 < self.test_fraction < 1:
            raise ValueError(f"test_fraction must be in (0, 1), but got {self.test_fraction}")
        if not 0 <= self.val_fraction < 1:
            raise ValueError(f"val_fraction must be in [0, 1), but got {self.val_fraction}")


def split_counts(n: int, spec: SplitSpec) -> tuple[int, int, int]:
    """(train, val, test) group counts for a stratum of ``n`` groups.

    Each split gets at least one group when the stratum is big enough: test from 2 groups,
    val from 3 (when val_fraction > 0); train always keeps at least one.
    """
    n_test = int(round(n * spec.test_fraction))
    if n >= 2:
        n_test = min(max(n_test, 1), n - 1)
    else:
        n_test = 0
    rest = n - n_test
    n_val = int(round(rest * spec.val_fraction))
    if spec.val_fraction > 0 and n >= 3:
        n_val = min(max(n_val, 1), rest - 1)
    else:
        n_val = min(n_val, max(rest - 1, 0))
    return rest - n_val, n_val, n_test


def assign_splits(
    keys: list[str], strata: list[str], groups: list[str], spec: SplitSpec, fixed: dict[str, str] | None = None
) -> dict[str, str]:
    """Map each key to 'train', 'val' or 'test'.

    Args:
        keys: unique image keys (names).
        strata: the stratum (defect type) of each key.
        groups: the group of each key; keys sharing a group share a split.
        spec: fractions and seed.
        fixed: keys whose split is forced (e.g. train/good background images -> 'train');
            their whole group follows them.
    """
    if not len(keys) == len(strata) == len(groups):
        raise ValueError(
            f"keys, strata and groups must have equal lengths, but got {len(keys)}, {len(strata)}, {len(groups)}"
        )
    fixed = fixed or {}
    members: dict[str, list[str]] = defaultdict(list)
    group_stratum: dict[str, str] = {}
    forced: dict[str, str] = {}
    for key, stratum, group in zip(keys, strata, groups, strict=True):
        members[group].append(key)
        group_stratum.setdefault(group, stratum)  # a mixed group follows its first stratum
        if key in fixed:
            forced.setdefault(group, fixed[key])
    by_stratum: dict[str, list[str]] = defaultdict(list)
    for group in members:  # insertion order = order of keys: deterministic
        if group not in forced:
            by_stratum[group_stratum[group]].append(group)
    result: dict[str, str] = {}
    for group, split in forced.items():
        result.update({k: split for k in members[group]})
    for stratum in sorted(by_stratum):
        stratum_groups = sorted(by_stratum[stratum])
        rng = np.random.default_rng([spec.seed, zlib.crc32(stratum.encode("utf-8"))])
        order = [stratum_groups[i] for i in rng.permutation(len(stratum_groups))]
        n_train, n_val, _ = split_counts(len(order), spec)
        for i, group in enumerate(order):
            split = "train" if i < n_train else "val" if i < n_train + n_val else "test"
            result.update({k: split for k in members[group]})
    return result
