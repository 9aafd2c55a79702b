"""Mixtures of normalized standards with known truth, shared by the benchmark scripts."""

from __future__ import annotations

import numpy as np
from scipy.interpolate import PchipInterpolator


def mixtures(
    stds: list, energy: np.ndarray, n_s: int, rng: np.random.Generator, max_shift: float
) -> tuple[np.ndarray, np.ndarray]:
    """``n_s`` mixtures of 2–4 of ``stds`` on ``energy`` (eV), with 0.3 % noise.

    Weights are Dirichlet draws with every active weight >= 0.1; each active standard is
    shifted by U(±``max_shift``) eV. Returns the mixtures (n_s, n_energy) and the weights
    (n_s, k).
    """
    k = len(stds)
    weights = np.zeros((n_s, k))
    for i in range(n_s):
        idx = rng.choice(k, rng.integers(2, 5), replace=False)
        w = rng.dirichlet(np.ones(idx.size))
        while w.min() < 0.1:
            w = rng.dirichlet(np.ones(idx.size))
        weights[i, idx] = w
    shifts = rng.uniform(-max_shift, max_shift, (n_s, k)) * (weights > 0)
    mix = np.zeros((n_s, energy.size))
    for j, std in enumerate(stds):
        curve = PchipInterpolator(std.energy, std.norm[0])
        mix += weights[:, j, None] * curve(energy[None, :] - shifts[:, j, None])
    mix += 0.003 * rng.normal(size=mix.shape)
    return mix, weights
