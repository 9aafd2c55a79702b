"""Broadening speed: speciate.theory.broadening.broaden on theory-sized series.

A radius sweep gives tens of spectra on one engine grid; a parameter scan of the
broadening itself (or an EELS-sized stack) gives thousands. Both are timed on the
FDMNES grid (191 points, 0.2 / 0.5 / 1 eV steps) and on a finer 600-point grid, against
a plain implementation run in the same process: one spectrum at a time, one output
energy at a time, Lorentzian weights times trapezoid widths (how most scripts do it).
Spectra sharing a Fermi level share one kernel; the last line of each case gives every
spectrum its own level (a FEFF radius sweep), which costs one kernel per spectrum.

Checks (exit 1 when one fails): the linear scheme agrees with the loop to 5 % of the
spectrum's maximum (the loop's own trapezoid error is 2–4 %), and the shared-kernel call is at
least 5x faster than the loop (a ratio measured in one run, so it holds under load).

Run: python benchmarks/bench_broadening.py
"""

from __future__ import annotations

import sys

import numpy as np

from _checks import Checks
from _timing import best_of
from speciate import Series
from speciate.theory.broadening import broaden, lorentzian_width

E_FERMI = -0.2
GAMMA_HOLE = 1.16


def fdmnes_grid() -> np.ndarray:
    return np.concatenate(
        [np.arange(-10, 10, 0.2), np.arange(10, 40, 0.5), np.arange(40, 70.01, 1.0)]
    )


def fine_grid() -> np.ndarray:
    return np.concatenate([np.arange(-15, 30, 0.1), np.arange(30, 105.01, 0.5)])


def make_series(energy: np.ndarray, n_s: int, seed: int = 0) -> Series:
    rng = np.random.default_rng(seed)
    centres = rng.uniform(0, 60, (n_s, 12))
    heights = rng.uniform(0.1, 1.0, (n_s, 12))
    peaks = heights[:, :, None] * np.exp(-0.5 * ((energy - centres[:, :, None]) / 1.5) ** 2)
    return Series(energy, 0.5 + np.arctan(energy / 2.0) / np.pi + peaks.sum(axis=1))


def loop_reference(energy: np.ndarray, mu: np.ndarray) -> np.ndarray:
    """One spectrum and one output energy at a time (trapezoid rule, Fermi cut)."""
    width = lorentzian_width(energy, gamma_hole=GAMMA_HOLE, e_fermi=E_FERMI)
    above = energy >= E_FERMI
    x = energy[above]
    dx = np.gradient(x)
    out = np.empty_like(mu)
    for i, row in enumerate(mu):
        f = row[above]
        for j, e in enumerate(energy):
            g = width[j] / 2.0
            kernel = g / np.pi / ((x - e) ** 2 + g**2)
            tail = f[-1] * (0.5 - np.arctan((x[-1] - e) / g) / np.pi)
            out[i, j] = np.sum(kernel * f * dx) + tail
    return out


def main() -> Checks:
    checks = Checks("bench_broadening")
    broaden(make_series(fdmnes_grid(), 1), e_fermi=E_FERMI)  # imports, xraydb table
    for grid_name, energy in (("FDMNES grid", fdmnes_grid()), ("fine grid", fine_grid())):
        for n_s in (64, 1000):
            series = make_series(energy, n_s)
            kwargs = {"e_fermi": E_FERMI, "gamma_hole": GAMMA_HOLE}
            fast = best_of(lambda s=series, k=kwargs: broaden(s, **k), 5)
            n_ref = min(n_s, 16)
            slow = best_of(lambda s=series, n=n_ref: loop_reference(s.energy, s.mu[:n]), 2)
            slow_per = slow / n_ref
            diff = (
                np.abs(
                    broaden(series.select(slice(0, 4)), scheme="linear", **kwargs).mu
                    - loop_reference(series.energy, series.mu[:4])
                ).max()
                / np.abs(series.mu[:4]).max()
            )
            print(f"{grid_name}: {n_s} spectra x {energy.size} points")
            per = fast * 1e6 / n_s
            print(f"  speciate broaden:      {per:9.1f} µs/spectrum ({fast * 1e3:.1f} ms)")
            print(f"  per-spectrum loop:     {slow_per * 1e6:9.1f} µs/spectrum (timed on {n_ref})")
            print(f"  speed-up:              {slow_per * n_s / fast:9.1f} x")
            print(f"  max |linear - loop| / max: {diff:.1e} (trapezoid error of the loop)")
            levels = np.random.default_rng(1).uniform(-1.0, 1.0, n_s)
            own = best_of(lambda s=series, v=levels: broaden(s, e_fermi=v, gamma_hole=1.16), 2)
            print(f"  one Fermi level each:  {own * 1e6 / n_s:9.1f} µs/spectrum (a kernel each)")
            case = f"{grid_name}, {n_s} spectra"
            checks.agree(f"{case}: max |linear - loop| / max", diff, 0.05)
            checks.at_least(f"{case}: speed-up over the loop", slow_per * n_s / fast, 5.0, "x")
    return checks


if __name__ == "__main__":
    sys.exit(main().exit_code)
