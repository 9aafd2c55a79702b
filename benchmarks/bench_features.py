"""Benchmark: fingerprint features of a 1000-spectrum series, vectorized vs a per-spectrum loop.

Run: ``python benchmarks/bench_features.py [N_SPECTRA] [MN_GROUPS_FOLDER]``

Without a folder the series is synthetic with known truth, one set of parameters per
spectrum: pre-edge Gaussians A and B (FWHM 1.5 eV, B 1.8-2.4 eV above A, heights
0.02-0.06), an edge made of three arctan steps (so dμ/dE is three Lorentzians of FWHM
2.5 eV near 6548, 6552 and 6556.5 eV; their tails reach ~0.08 of the step at the end of
the pre-edge window, as in real Mn oxides) and a white-line Gaussian near 6566 eV, on a
0.25 eV grid with noise of 0.3 % of the edge step. The truth of every feature is read
on the noiseless analytic spectrum and its analytic derivative (0.001 eV grid).
With the folder of the exported Mn.prj groups, the series is random mixtures of the
real oxide standards (no truth; agreement only).

The reference makes the *same* measurements one spectrum at a time with the usual
tools: `scipy.optimize.least_squares` (same model, bounds, fixed starting pairs,
one-versus-two-peak χ² test, merging and reporting rule) for the pre-edge,
`numpy.interp` + `scipy.signal.savgol_filter` + `scipy.signal.find_peaks` (same grid,
filter, prominence rule and noise floor) for the derivative maxima, white line and
half-step energy. Timings depend on the machine's load: run with
``OPENBLAS_NUM_THREADS=1`` on a shared machine. Results: docs/features.md.

Checks (exit 1 when one fails), with margins over the values in docs/features.md: the
vectorized code at least 20x (pre-edge) and 3x (the rest) faster than the loop; the same
pre-edge decision in >= 98 % of spectra, SSR ratio median within 1e-3 of 1, positions where
both report within 0.01 eV (median); derivative-maxima counts equal in >= 98 %, positions
within 0.1 eV, white line 0.1 eV, e_half 0.01 eV (medians); against the truth, pre-edge
positions 0.1 eV, maxima counts >= 85 %, c/d/e 0.3 eV, white line 0.2 eV, e_half 0.05 eV.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
from scipy.optimize import least_squares
from scipy.signal import find_peaks, savgol_filter

from _checks import Checks
from speciate import Series
from speciate.features import derivative_triplet, edge_positions, extract, preedge_peaks
from speciate.features import white_line as white_line_feature
from speciate.features.preedge import START_FRACTIONS
from speciate.xanes import as_normalized

_LN2 = np.log(2.0)
GRID = np.arange(6450.0, 6650.0, 0.25)
NOISE = 0.003
N_LOOP_PREEDGE = 200
NOISE_SIGMA = 5.0  # the triplet rule's noise floor (derivative_triplet default)
PRE_FWHM, EDGE_GAMMA = 1.5, 2.5


def _synthetic(n: int, rng: np.random.Generator, energy: np.ndarray):
    """Noiseless spectra (n, len(energy)), their derivative and the true parameters."""
    c_a = rng.uniform(6540.2, 6541.0, n)
    c_b = c_a + rng.uniform(1.8, 2.4, n)
    h_a, h_b = rng.uniform(0.02, 0.06, (2, n))
    centres = np.array([6548.0, 6552.0, 6556.5]) + rng.uniform(-0.5, 0.5, (n, 3))
    steps = rng.uniform(0.2, 0.5, (n, 3))
    steps /= steps.sum(axis=1, keepdims=True)
    x = energy[None, None, :] - centres[:, :, None]
    half = 0.5 * EDGE_GAMMA
    mu = (steps[:, :, None] * (0.5 + np.arctan(x / half) / np.pi)).sum(axis=1)
    dmu = (steps[:, :, None] / (np.pi * half * (1 + (x / half) ** 2))).sum(axis=1)
    wl_c = 6566.0 + rng.uniform(-1.0, 1.0, n)
    wl = 0.4 * np.exp(-4 * _LN2 * (energy - wl_c[:, None]) ** 2 / 6.0**2)
    dmu += wl * (-8 * _LN2 * (energy - wl_c[:, None]) / 6.0**2)
    gauss = [h[:, None] * np.exp(-4 * _LN2 * (energy - c[:, None]) ** 2 / PRE_FWHM**2)
             for c, h in ((c_a, h_a), (c_b, h_b))]  # fmt: skip
    return mu + wl + gauss[0] + gauss[1], dmu, (c_a, c_b, h_a, h_b)


def make_series(n: int, folder: Path | None, seed: int = 0):
    """The benchmark series and, for synthetic data, its truth (else ``None``)."""
    rng = np.random.default_rng(seed)
    if folder is not None and folder.is_dir():
        from speciate.features.mn_standards import MN_OXIDE_STANDARDS, load_standard

        basis = []
        for name, _ in MN_OXIDE_STANDARDS:
            one = load_standard(folder / name)
            basis.append(np.interp(GRID, one.energy, one.norm[0]))
        weights = rng.dirichlet(np.ones(len(basis)) * 0.7, size=n)
        mu = weights @ np.array(basis) + rng.normal(0.0, NOISE, (n, GRID.size))
        return Series(GRID, mu), None
    mu, _, pre = _synthetic(n, rng, GRID)
    fine = np.arange(6530.0, 6590.0, 0.001)
    fine_mu, fine_dmu, _ = _synthetic(n, np.random.default_rng(seed), fine)
    truth = {"c_a": pre[0], "c_b": pre[1], "h_a": pre[2], "h_b": pre[3]}
    truth["n_maxima"], truth["maxima"] = [], []
    tri = (fine >= 6543.0) & (fine <= 6560.0)
    for d in fine_dmu[:, tri]:  # truth, computed once
        peaks, _ = find_peaks(d, prominence=0.03 * d.max())
        truth["n_maxima"].append(peaks.size)
        truth["maxima"].append(fine[tri][peaks])
    wl_in = (fine >= 6545.0) & (fine <= 6580.0)
    truth["white_line"] = fine[wl_in][np.argmax(fine_mu[:, wl_in], axis=1)]
    truth["e_half"] = fine[np.argmax((fine_mu >= 0.5) & (fine[None, :] > 6535.0), axis=1)]
    return Series(GRID, mu + rng.normal(0.0, NOISE, mu.shape)), truth


def _preedge_model(theta, e, u):
    c_a, c_b, w, h_a, h_b, *b = theta
    g = lambda c: np.exp(-4 * _LN2 * (e - c) ** 2 / w**2)  # noqa: E731
    return h_a * g(c_a) + h_b * g(c_b) + np.polynomial.polynomial.polyval(u, b)


def _reported_peaks(t, cov, lo, hi, n_sigma, min_height):
    """The reporting rule of `preedge_peaks`, for one spectrum: [(energy, height)]."""
    c0, c1, w, h0, h1 = t[:5]
    sep_sd = np.sqrt(max(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1], 0.0))
    if (abs(c1 - c0) < 0.5 * w or abs(c1 - c0) < 3 * sep_sd) and h0 + h1 > 0:
        total = h0 + h1  # unresolved: one peak at the height-weighted position
        comps = [((c0 * h0 + c1 * h1) / total, total, cov[3, 3] + cov[4, 4] + 2 * cov[3, 4])]
    else:
        comps = [(c0, h0, cov[3, 3]), (c1, h1, cov[4, 4])]
    return sorted(
        (c, h)
        for c, h, var in comps
        if h > n_sigma * np.sqrt(max(var, 0.0))
        and h >= min_height
        and lo + w / 2 <= c <= hi - w / 2
    )


def reference_preedge(energy, norm, window, n_sigma=5.0, min_height=0.01):
    """Per-spectrum least_squares; returns (n, 5): A, B energies, heights, SSR."""
    inside = (energy >= window[0]) & (energy <= window[1])
    e = energy[inside]
    u = (e - 0.5 * (e[0] + e[-1])) / (0.5 * (e[-1] - e[0]))
    lo, hi = e[0], e[-1]
    bounds = ([lo, lo, 0.5, 0.0, 0.0] + [-np.inf] * 4, [hi, hi, 4.0] + [np.inf] * 6)
    out = np.full((norm.shape[0], 5), np.nan)
    for i, y in enumerate(norm[:, inside]):
        best = None
        for fa, fb in START_FRACTIONS:
            p0 = [lo + fa * (hi - lo), lo + fb * (hi - lo), 1.5, 0.03, 0.03, y.mean(), 0, 0, 0]
            r = least_squares(lambda t, y=y: _preedge_model(t, e, u) - y, p0, bounds=bounds)
            best = r if best is None or r.cost < best.cost else best
        t, ssr = best.x, 2.0 * best.cost
        cov = np.linalg.pinv(best.jac.T @ best.jac) * ssr / (e.size - t.size)
        # one peak instead, from the stronger component and from the weighted centre
        c0, c1, w, h0, h1 = t[:5]
        one = None
        for c, h in (
            (c0, h0) if h0 >= h1 else (c1, h1),
            ((c0 * h0 + c1 * h1) / (h0 + h1), h0 + h1),
        ):
            p0 = [c, w, max(h, 1e-4), *t[5:]]
            r = least_squares(
                lambda p, y=y: _preedge_model([p[0], p[0], p[1], p[2], 0.0, *p[3:]], e, u) - y,
                p0,
                bounds=([lo, 0.5, 0.0] + [-np.inf] * 4, [hi, 4.0] + [np.inf] * 5),
            )
            one = r if one is None or r.cost < one.cost else one
        if (2.0 * one.cost - ssr) / (ssr / (e.size - t.size)) < n_sigma**2:
            p = one.x
            t = np.array([p[0], p[0], p[1], p[2], 0.0, *p[3:]])
            ssr = 2.0 * one.cost
            j = np.zeros((e.size, t.size))
            j[:, [0, 2, 3, 5, 6, 7, 8]] = one.jac
            cov = np.linalg.pinv(j.T @ j) * ssr / (e.size - p.size)
        for k, (c, h) in enumerate(_reported_peaks(t, cov, lo, hi, n_sigma, min_height)):
            out[i, k], out[i, 2 + k] = c, h
        out[i, 4] = ssr
    return out


def reference_derivative_features(energy, norm, tri_window, wl_window, step=0.1, smooth=1.0):
    """Per-spectrum interp + savgol + find_peaks: maxima counts/positions, α, e_half."""
    lo, hi = tri_window[0] - smooth, tri_window[1] + smooth
    grid = lo + step * np.arange(int(np.floor((hi - lo) / step + 1e-9)) + 1)
    length = max(round(smooth / step) | 1, 5)
    keep = (grid >= tri_window[0]) & (grid <= tri_window[1])
    # noise gain of interp + derivative filter: the filter applied to every unit impulse
    impulses = np.array([np.interp(grid, energy, row) for row in np.eye(energy.size)])
    gain = np.sqrt((savgol_filter(impulses, length, 2, deriv=1, delta=step) ** 2).sum(0))[keep]
    below = energy < tri_window[0] - 10.0
    h1, h2 = np.diff(energy[below])[:-1], np.diff(energy[below])[1:]
    wl_, wr_ = h2 / (h1 + h2), h1 / (h1 + h2)
    wl_grid = np.arange(wl_window[0] - smooth, wl_window[1] + smooth + 1e-9, step)
    wl_keep = (wl_grid >= wl_window[0]) & (wl_grid <= wl_window[1])
    counts, maxima = np.zeros(norm.shape[0], int), []
    wl, e_half = np.full(norm.shape[0], np.nan), np.full(norm.shape[0], np.nan)
    for i, y in enumerate(norm):
        yb = y[below]
        r = (yb[1:-1] - wl_ * yb[:-2] - wr_ * yb[2:]) / np.sqrt(1 + wl_**2 + wr_**2)
        sigma = 1.4826 * np.median(np.abs(r))
        d = savgol_filter(np.interp(grid, energy, y), length, 2, deriv=1, delta=step)[keep]
        floor = max(0.03 * d.max(), NOISE_SIGMA * sigma * gain.min())
        peaks, props = find_peaks(d, prominence=floor)
        peaks = peaks[props["prominences"] >= NOISE_SIGMA * sigma * gain[peaks]]
        counts[i] = peaks.size
        maxima.append(grid[keep][peaks])
        s = savgol_filter(np.interp(wl_grid, energy, y), length, 2)[wl_keep]
        wl[i] = wl_grid[wl_keep][np.argmax(s)]
        up = np.nonzero((y[1:] >= 0.5) & (y[:-1] < 0.5) & (energy[1:] >= 6535.0))[0]
        if up.size:
            j = up[0]
            e_half[i] = np.interp(0.5, y[j : j + 2], energy[j : j + 2])
    return counts, maxima, wl, e_half


def timed(fn, *args, **kwargs):
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t0


def _med(x):
    return float(np.nanmedian(np.abs(x)))


def main(argv: list[str]) -> Checks:
    checks = Checks("bench_features")
    n = int(argv[1]) if len(argv) > 1 else 1000
    folder = Path(argv[2]) if len(argv) > 2 else None
    series, truth = make_series(n, folder)
    data = as_normalized(series)
    print(
        f"{n} spectra x {GRID.size} energies "
        f"({'standards' if folder else 'synthetic, truth known'})"
    )
    table, t_all = timed(extract, data)
    pre, t_pre = timed(preedge_peaks, data)
    tri, t_tri = timed(derivative_triplet, data)
    wl, t_wl = timed(white_line_feature, data)
    edge, t_edge = timed(edge_positions, data)
    # the least_squares loop costs ~0.2 s per spectrum: time it on a subset and scale
    m = min(n, N_LOOP_PREEDGE)
    ref_pre, r_pre = timed(reference_preedge, data.energy, data.norm[:m], pre.window)
    r_pre *= n / m
    (ref_n, ref_max, ref_wl, ref_half), r_rest = timed(
        reference_derivative_features, data.energy, data.norm, tri.window, wl.window
    )
    ours_rest = t_tri + t_wl + t_edge
    print(f"extract (all features):        {t_all:7.3f} s  ({1e3 * t_all / n:.2f} ms/spectrum)")
    print(f"pre-edge A/B fit   vectorized {t_pre:7.3f} s | loop least_squares {r_pre:7.3f} s "
          f"(timed on {m}, scaled) | x{r_pre / t_pre:5.1f}")  # fmt: skip
    print(f"edge+α+maxima      vectorized {ours_rest:7.3f} s | loop scipy         {r_rest:7.3f} s"
          f" | x{r_rest / ours_rest:5.1f}")  # fmt: skip
    ours_ssr = pre.residual_rms[:m] ** 2 * pre.energy.size
    ratio = ours_ssr / ref_pre[:, 4]
    print(f"pre-edge SSR vectorized/loop ({m} spectra): median {np.median(ratio):.4f}, 99th pct "
          f"{np.percentile(ratio, 99):.4f}, worst {ratio.max():.3f}")  # fmt: skip
    found = np.column_stack([np.isfinite(pre.a_energy), np.isfinite(pre.b_energy)])[:m]
    ref_found = np.isfinite(ref_pre[:, :2])
    both_a = found[:, 0] & ref_found[:, 0]
    both_b = found[:, 1] & ref_found[:, 1]
    print(f"pre-edge peaks reported: A {found[:, 0].mean():.0%} / {ref_found[:, 0].mean():.0%}, "
          f"B {found[:, 1].mean():.0%} / {ref_found[:, 1].mean():.0%} (vectorized / loop); "
          f"same decision {np.mean((found == ref_found).all(1)):.1%}; where both report: "
          f"median |dE_A| {_med(pre.a_energy[:m][both_a] - ref_pre[both_a, 0]):.4f} eV, "
          f"|dE_B| {_med(pre.b_energy[:m][both_b] - ref_pre[both_b, 1]):.4f} eV")  # fmt: skip
    same_n = tri.n_maxima == ref_n
    both = same_n & (ref_n > 0)
    d_pos = [
        np.abs(tri.maxima_energy[i, : ref_n[i]] - ref_max[i]).max() for i in np.nonzero(both)[0]
    ]
    print(f"derivative maxima: counts equal in {same_n.mean():.1%}; where equal, worst position "
          f"difference median {np.median(d_pos):.3f} eV (grid step 0.1 eV); white line median "
          f"|diff| {_med(wl.energy - ref_wl):.3f} eV; e_half median |diff| "
          f"{_med(edge.e_half - ref_half):.4f} eV")  # fmt: skip
    n3 = np.mean(table["triplet_n_maxima"] == 3)
    print(f"triplets found: {n3:.0%} of spectra")
    checks.at_least("pre-edge speed-up over the loop", r_pre / t_pre, 20.0, "x")
    checks.at_least("edge+α+maxima speed-up over the loop", r_rest / ours_rest, 3.0, "x")
    checks.at_least("same pre-edge decision", np.mean((found == ref_found).all(1)), 0.98)
    checks.agree("pre-edge SSR ratio median - 1", np.median(ratio) - 1.0, 1e-3)
    checks.agree("pre-edge A position vs loop, median", _med(pre.a_energy[:m][both_a]
                 - ref_pre[both_a, 0]), 0.01, "eV")  # fmt: skip
    checks.agree("pre-edge B position vs loop, median", _med(pre.b_energy[:m][both_b]
                 - ref_pre[both_b, 1]), 0.01, "eV")  # fmt: skip
    checks.at_least("derivative-maxima counts equal", same_n.mean(), 0.98)
    checks.agree("maxima worst position vs loop, median", float(np.median(d_pos)), 0.1, "eV")
    checks.agree("white line vs loop, median", _med(wl.energy - ref_wl), 0.1, "eV")
    checks.agree("e_half vs loop, median", _med(edge.e_half - ref_half), 0.01, "eV")
    if truth is None:
        return checks
    t_n = np.array(truth["n_maxima"])
    print(f"truth: {np.mean(t_n == 3):.0%} of spectra have 3 maxima (analytic dμ/dE, 3 % rule)")
    for name, a_e, b_e, a_h, b_h in (
        ("vectorized", pre.a_energy, pre.b_energy, pre.a_height, pre.b_height),
        ("loop", *ref_pre[:, :4].T),
    ):
        k = a_e.size
        print(f"  pre-edge {name:10s} ({k}): |E_A-true| median {_med(a_e - truth['c_a'][:k]):.3f}"
              f" eV, |E_B-true| {_med(b_e - truth['c_b'][:k]):.3f} eV, |h_A/true-1| "
              f"{_med(a_h / truth['h_a'][:k] - 1):.1%}, |h_B/true-1| "
              f"{_med(b_h / truth['h_b'][:k] - 1):.1%}; "
              f"both reported {np.mean(np.isfinite(a_e) & np.isfinite(b_e)):.0%}")  # fmt: skip
    for name, counts in (("vectorized", tri.n_maxima), ("loop", ref_n)):
        print(f"  maxima count = truth: {name:10s} {np.mean(counts == t_n):.1%}")
    ok3 = (tri.n_maxima == 3) & (t_n == 3)
    true3 = np.array([m for m, k in zip(truth["maxima"], t_n) if k == 3]).reshape(-1, 3)
    if ok3.any():
        err = tri.maxima_energy[ok3, :3] - true3[ok3[t_n == 3]]
        print(f"  triplet c/d/e |E-true| median {_med(err):.3f} eV, 95th pct "
              f"{np.percentile(np.abs(err), 95):.3f} eV over {ok3.sum()} spectra")  # fmt: skip
    print(f"  white line |E-true| median: vectorized {_med(wl.energy - truth['white_line']):.3f}"
          f" eV, loop {_med(ref_wl - truth['white_line']):.3f} eV; e_half: vectorized "
          f"{_med(edge.e_half - truth['e_half']):.4f} eV, loop "
          f"{_med(ref_half - truth['e_half']):.4f} eV")  # fmt: skip
    k = pre.a_energy.size
    checks.agree("pre-edge A vs truth, median", _med(pre.a_energy - truth["c_a"][:k]), 0.1, "eV")
    checks.agree("pre-edge B vs truth, median", _med(pre.b_energy - truth["c_b"][:k]), 0.1, "eV")
    checks.at_least("maxima count = truth", np.mean(tri.n_maxima == t_n), 0.85)
    checks.require("some triplets match the truth's", ok3.any())
    if ok3.any():
        checks.agree("triplet c/d/e vs truth, median", _med(err), 0.3, "eV")
    checks.agree("white line vs truth, median", _med(wl.energy - truth["white_line"]), 0.2, "eV")
    checks.agree("e_half vs truth, median", _med(edge.e_half - truth["e_half"]), 0.05, "eV")
    return checks


if __name__ == "__main__":
    sys.exit(main(sys.argv).exit_code)
