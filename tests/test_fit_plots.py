"""Figures of fits: per-spectrum fit panels, weights against index/time, scan landscape."""

from __future__ import annotations

import io

import numpy as np
import pytest
from matplotlib.figure import Figure

from speciate import Series, ValidationError
from speciate.fit import lcf, scan
from speciate.fit.plots import plot_fit, plot_fits, plot_scan, plot_weights
from test_fit_support import SIX, mixtures, six_standards


@pytest.fixture(scope="module")
def fitted(mn_groups):
    six = six_standards(mn_groups)
    series, _, _ = mixtures(six, 8, seed=41, shift=0.0)
    series = series.replace(time=np.arange(8) * 1800.0)
    return six, series, lcf(series, six[:4])


def test_plot_fit_draws_data_fit_components_and_residual(fitted):
    _, _, result = fitted
    fig = plot_fit(result, 2)
    top, bottom = fig.axes
    labels = [line.get_label() for line in top.get_lines()]
    assert labels[:2] == ["data", "fit"]
    shown = [j for j in range(4) if result.weights[2, j] != 0]
    assert len(labels) == 2 + len(shown)
    assert labels[2].startswith(SIX[shown[0]])
    np.testing.assert_allclose(top.get_lines()[1].get_ydata(), result.fit[2])
    np.testing.assert_allclose(bottom.get_lines()[0].get_ydata(), result.residual[2])
    fig.savefig(io.BytesIO(), format="png", dpi=40)
    with pytest.raises(ValidationError, match="index"):
        plot_fit(result, 8)


def test_plot_fits_spreads_panels_over_the_series(fitted):
    _, _, result = fitted
    fig = plot_fits(result, max_spectra=3)
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert [t.split()[0] for t in titles] == ["spectrum_0", "spectrum_4", "spectrum_7"]
    with pytest.raises(ValidationError, match="indices"):
        plot_fits(result, indices=[0, 9])


def test_plot_weights_against_time_and_index(fitted):
    _, _, result = fitted
    fig = plot_weights(result)
    ax = fig.axes[0]
    assert ax.get_xlabel() == "time (h)"
    np.testing.assert_allclose(ax.get_lines()[0].get_xdata(), np.arange(8) * 0.5)
    np.testing.assert_allclose(ax.get_lines()[1].get_ydata(), result.weights[:, 1])
    assert len(ax.collections) == 4  # one ±1σ band per standard
    by_index = plot_weights(result, x="index").axes[0]
    assert by_index.get_xlabel() == "spectrum index"
    raw = plot_weights(np.ones((3, 2)) / 2, standards=["a", "b"], x=[1.0, 2.0, 3.0], xlabel="V")
    assert isinstance(raw, Figure) and raw.axes[0].get_xlabel() == "V"
    with pytest.raises(ValidationError, match="names"):
        plot_weights(np.ones((3, 2)), standards=["a"])


def test_plot_scan_marks_best_and_band(fitted):
    six, series, _ = fitted
    grid = np.arange(6450.0, 6700.0, 0.5)
    base = np.interp(grid, six[2].energy, six[2].norm[0])
    radii = np.array([3.0, 4.0, 5.0, 6.0])
    blur = [np.convolve(base, np.ones(int(14 - 2 * r)) / int(14 - 2 * r), "same") for r in radii]
    cands = Series(grid, np.array(blur), labels=[f"c{r:g}" for r in radii],
                   coords={"phase": np.array(["x"] * 4), "radius": radii})  # fmt: skip
    result = scan(series.select([0]), six[0], cands)
    fig = plot_scan(result)
    ax = fig.axes[0]
    assert ax.get_xlabel() == "radius (Å)" and ax.get_yscale() == "log"
    np.testing.assert_allclose(ax.get_lines()[0].get_ydata(), result.r_factor[:, 0])
    assert ax.get_lines()[-1].get_label() == f"best: {result.best[0]}"
    with pytest.raises(ValidationError, match="ScanResult"):
        plot_scan(fitted[2])
