"""Builders shared by the fit tests (no tests here): real Mn standards, synthetic mixtures."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from scipy.interpolate import PchipInterpolator

from speciate import Series
from speciate.xanes import normalize

SIX = ["02_MnO", "14_Mn3O4", "04_Mn2O3x", "09_g-MnOOH", "11_Pyrolusite", "05_Li2MnO3"]


def load_group(path: Path) -> Series:
    """One Mn_groups file as a Series (energy_shifted, mu), sorted by energy."""
    data = np.loadtxt(path)
    order = np.argsort(data[:, 1], kind="stable")
    return Series(data[order, 1], data[order, 2], labels=[path.stem])


def larch_normalized(root: Path, rel: str):
    """Normalize a Mn_groups file with the ranges Larch chose for it."""
    ranges = json.loads((root / "golden" / "larch_pre_edge_Mn_groups.json").read_text())
    ref = next(r for r in ranges["spectra"] if r["file"] == rel)
    return normalize(
        load_group(root / rel),
        pre=(ref["pre1"], ref["pre2"]),
        post=(ref["norm1"], ref["norm2"]),
        post_order=ref["nnorm"],
    )


def six_standards(mn_groups: Path) -> list:
    """The six real Mn standards of the issue, normalized."""
    return [normalize(load_group(mn_groups / f"{name}.dat")) for name in SIX]


def mixtures(
    standards: list,
    n_s: int,
    seed: int,
    shift: float = 0.5,
    noise: float = 0.003,
    n_active: tuple[int, int] = (2, 4),
    grid: np.ndarray | None = None,
) -> tuple[Series, np.ndarray, np.ndarray]:
    """Synthetic mixtures: per spectrum 2–4 active standards with Dirichlet weights all
    >= 0.1, each active standard shifted by U(-shift, shift) eV, Gaussian noise.

    The standards are interpolated with PCHIP, not with the fitter's cubic spline.
    Returns the series (with an ``e0`` coordinate), true weights (n_s, k), true shifts.
    """
    rng = np.random.default_rng(seed)
    k = len(standards)
    energy = np.arange(6520.0, 6625.0, 0.3) if grid is None else grid
    weights = np.zeros((n_s, k))
    for i in range(n_s):
        m = rng.integers(n_active[0], n_active[1] + 1)
        idx = rng.choice(k, m, replace=False)
        w = rng.dirichlet(np.ones(m))
        while w.min() < 0.1:
            w = rng.dirichlet(np.ones(m))
        weights[i, idx] = w
    shifts = rng.uniform(-shift, shift, (n_s, k)) * (weights > 0)
    mu = np.zeros((n_s, energy.size))
    for j, std in enumerate(standards):
        curve = PchipInterpolator(std.energy, std.norm[0])
        mu += weights[:, j, None] * curve(energy[None, :] - shifts[:, j, None])
    mu += rng.normal(0.0, noise, mu.shape)
    e0 = np.full(n_s, 6549.0)
    return Series(energy, mu, coords={"e0": e0}), weights, shifts
