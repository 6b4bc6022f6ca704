"""PaDiM (Defard et al., "PaDiM: a Patch Distribution Modeling Framework", ICPR 2021) on torch.

Fit: at every position of the stride-8 feature grid, a multivariate Gaussian of the good images' features,
restricted to ``padim_dims`` channels drawn at random (seeded) from the backbone's stride-8 + stride-16
channels; covariance + 0.01 I (the paper's regulariser), stored inverted. Statistics are summed image by
image in float64, so memory does not grow with the number of images: (positions x dims x dims) floats,
e.g. 1024 x 100 x 100 x 4 bytes = 41 MB at imgsz 256. Score: the Mahalanobis distance at each position.
"""

from __future__ import annotations

from typing import Any

EPS = 0.01


class GaussianSums:
    """Running sums of features per position: n, sum x, sum x x^T (float64)."""

    def __init__(self, idx):
        self.idx, self.n, self.s1, self.s2 = idx, 0, None, None

    def add(self, features) -> None:
        import torch

        x = features[:, self.idx].flatten(2).permute(2, 0, 1).double()  # (P, B, d)
        s1, s2 = x.sum(dim=1), torch.einsum("pbi,pbj->pij", x, x)
        self.s1 = s1 if self.s1 is None else self.s1 + s1
        self.s2 = s2 if self.s2 is None else self.s2 + s2
        self.n += features.shape[0]

    def finish(self) -> dict[str, Any]:
        """{"idx", "mean" (P, d), "cov_inv" (P, d, d)} in float32."""
        import torch

        mean = self.s1 / self.n
        cov = (self.s2 - self.n * torch.einsum("pi,pj->pij", mean, mean)) / (self.n - 1)
        cov += EPS * torch.eye(cov.shape[-1], dtype=cov.dtype)
        return {"idx": self.idx, "mean": mean.float(), "cov_inv": torch.linalg.inv(cov).float()}


def channel_choice(channels: int, dims: int, generator):
    """``min(dims, channels)`` channel indices, drawn at random and sorted."""
    import torch

    return torch.randperm(channels, generator=generator)[: min(dims, channels)].sort().values


def mahalanobis(features, state: dict[str, Any]):
    """(B, h, w) Mahalanobis distance of (B, C, h, w) ``features`` to the per-position Gaussians."""
    import torch

    b, _, h, w = features.shape
    x = features[:, state["idx"]].flatten(2).permute(2, 0, 1)  # (P, B, d)
    delta = x - state["mean"][:, None]
    m = (torch.bmm(delta, state["cov_inv"]) * delta).sum(dim=2)  # (P, B)
    return m.T.clamp(min=0).sqrt().reshape(b, h, w)
