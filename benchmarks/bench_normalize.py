"""Normalization speed: speciate.xanes.normalize on 300 spectra x ~500 points.

Prints the time per spectrum and the ratio against a straightforward per-spectrum
loop (numpy polyfit per spectrum, the way most scripts do it) run in the same process.
Target: <= 10 µs per spectrum; the normalized spectra agree with the loop's to 5e-3 (the
loop takes E0 at the raw derivative maximum, speciate at the smoothed one). Exits 1 when a
check fails.
"""

from __future__ import annotations

import sys

import numpy as np

from _checks import Checks
from _timing import best_of
from speciate import Series
from speciate.xanes import normalize


def make_series(n_s: int = 300, seed: int = 0) -> Series:
    rng = np.random.default_rng(seed)
    energy = np.concatenate([np.arange(6340, 6520, 2.0), np.arange(6520, 6600, 0.25),
                             np.arange(6600, 6950, 3.0)])  # fmt: skip
    e0 = 6547 + rng.uniform(-2, 2, n_s)
    t = energy[None, :] - e0[:, None]
    mu = 0.1 - 1e-4 * t + rng.uniform(0.8, 1.2, (n_s, 1)) * (0.5 + np.arctan(t / 1.5) / np.pi)
    return Series(energy, mu + 1e-3 * rng.normal(size=mu.shape))


def loop_reference(energy, mu, pre=(-200.0, -30.0), post=(50.0, None), order=2):
    """One spectrum at a time: the plain implementation speciate is compared with."""
    out = np.empty_like(mu)
    for i, row in enumerate(mu):
        d = np.gradient(row, energy)
        e0 = energy[np.argmax(d[3:-3]) + 3]
        sel = (energy >= e0 + pre[0]) & (energy <= e0 + pre[1])
        line = np.polyval(np.polyfit(energy[sel], row[sel], 1), energy)
        hi = energy[-1] if post[1] is None else e0 + post[1]
        sel = (energy >= e0 + post[0]) & (energy <= hi)
        poly = np.polyfit(energy[sel] - e0, row[sel] - line[sel], order)
        out[i] = (row - line) / np.polyval(poly, 0.0)
    return out


def main() -> Checks:
    checks = Checks("bench_normalize")
    series = make_series()
    n_s, n_e = series.mu.shape
    # the loop implements fixed Athena-style ranges: compare speciate on the same ranges
    fixed = {"pre": (-200.0, -30.0), "post": (50.0, None), "post_order": 2}
    fast = best_of(lambda: normalize(series), repeat=30)
    slow = best_of(lambda: loop_reference(series.energy, series.mu), repeat=3)
    diff = np.abs(normalize(series, **fixed).norm - loop_reference(series.energy, series.mu))
    diff = diff.max()
    print(f"normalize: {n_s} spectra x {n_e} points")
    print(f"  speciate (vectorized): {fast * 1e6 / n_s:8.2f} µs/spectrum  ({fast * 1e3:.2f} ms)")
    print(f"  per-spectrum loop:     {slow * 1e6 / n_s:8.2f} µs/spectrum  ({slow * 1e3:.2f} ms)")
    print(f"  speed-up: {slow / fast:.1f}x   max |Δnorm| vs loop: {diff:.2e}")
    checks.target("normalize time per spectrum", fast * 1e6 / n_s, 10.0, "µs")
    checks.agree("max |Δnorm| vs the loop", diff, 5e-3)
    return checks


if __name__ == "__main__":
    sys.exit(main().exit_code)
