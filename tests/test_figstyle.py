"""Figure conventions: legends up to 12 curves, a colour bar beyond; readable date axes;
command-line figures titled with what they show."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.figure import Figure

from speciate._figstyle import MAX_LEGEND_ENTRIES, date_axis, legend_or_colorbar


@pytest.mark.parametrize("n", [3, MAX_LEGEND_ENTRIES, MAX_LEGEND_ENTRIES + 1, 40])
def test_legend_up_to_twelve_curves_then_a_colour_bar(n):
    fig = Figure()
    ax = fig.add_subplot()
    labels = [f"scan_{i:03d}" for i in range(n)]
    for i, label in enumerate(labels):
        ax.plot([0, 1], [i, i], label=label)
    legend_or_colorbar(ax, labels)
    if n <= MAX_LEGEND_ENTRIES:
        assert len(ax.get_legend().get_texts()) == n and len(fig.axes) == 1
    else:
        assert ax.get_legend() is None and len(fig.axes) == 2
        ticks = [t.get_text() for t in fig.axes[1].get_yticklabels()]
        assert ticks[0] == "scan_000" and ticks[-1] == f"scan_{n - 1:03d}"


def test_date_axis_labels_are_short_and_distinct():
    fig = Figure(figsize=(5, 3))
    ax = fig.add_subplot()
    t = np.datetime64("2022-07-26T23:00") + np.arange(0, 11 * 60, 30).astype("timedelta64[m]")
    ax.plot(t, np.arange(t.size))
    date_axis(ax)
    fig.canvas.draw()
    labels = [x.get_text() for x in ax.get_xticklabels() if x.get_text()]
    assert 3 <= len(labels) <= 7
    assert len(set(labels)) == len(labels) and max(map(len, labels)) <= 6


def test_normalize_figure_names_spectra_and_edges(tmp_path, real_data):
    import speciate.io as sio
    from speciate.cli.normalize import normalized_figure
    from speciate.xanes import normalize

    with pytest.warns(UserWarning, match="trimmed"):
        groups = sio.read_many(real_data / "xanes" / "xraylarch" / "Mn.prj", grid="first")
    for n in (3, 14):
        result = normalize(groups.select(np.arange(n)))
        fig = normalized_figure(result)
        ax = fig.axes[0]
        assert ax.get_xlabel() == "energy (eV)" and ax.get_ylabel() == "normalized μ(E)"
        assert ax.get_title().startswith(f"{n} normalized spectra, E0 ")
        if n == 3:
            assert [t.get_text() for t in ax.get_legend().get_texts()] == list(result.labels)
        else:
            assert ax.get_legend() is None and fig.axes[1].get_ylabel() == "spectrum (14)"


def test_fit_figures_name_the_worst_fit(tmp_path, mn_groups):
    import pandas as pd

    from speciate.cli import main
    from speciate.cli.fit import fit_figures

    out = tmp_path / "fit.csv"
    data = [str(mn_groups / f"{n}.dat") for n in ("14_Mn3O4", "02_MnO", "11_Pyrolusite")]
    stds = [a for n in ("02_MnO", "04_Mn2O3x", "11_Pyrolusite")
            for a in ("-s", str(mn_groups / f"{n}.dat"))]  # fmt: skip
    argv = ["fit", *data, *stds, "--energy", "energy_shifted_eV", "--mu", "mu", "--sort",
            "--grid", "first", "-o", str(out), "--plot"]  # fmt: skip
    assert main(argv) == 0
    table = pd.read_csv(out)
    worst = table.loc[table["r_factor"].idxmax(), "label"]
    assert worst == "14_Mn3O4"  # the only mixture; the others are their own standards
    for suffix in ("_fits.png", "_weights.png"):
        assert (tmp_path / f"fit{suffix}").stat().st_size > 10_000
    import speciate.io as sio
    from speciate.fit import lcf
    from speciate.xanes import normalize

    opts = {"energy": "energy_shifted_eV", "mu": "mu", "sort": True}
    with pytest.warns(UserWarning, match="trimmed"):
        series = normalize(sio.read_many(data, grid="first", **opts))
    standards = [normalize(sio.read(p, **opts)) for p in stds[1::2]]
    fits, weights = fit_figures(lcf(series, standards))
    assert "worst fit: 14_Mn3O4, R = " in fits.get_suptitle()
    assert "worst fit: 14_Mn3O4" in weights.axes[0].get_title(loc="left")
    assert weights.axes[0].get_ylabel().startswith("weight (")


def test_colour_bar_ticks_show_what_tells_long_labels_apart():
    fig = Figure()
    ax = fig.add_subplot()
    labels = [f"norm_op2_cell4_pos1_dq1_{i:04d}_av240_00001" for i in range(1, 30)]
    legend_or_colorbar(ax, labels)
    ticks = [t.get_text() for t in fig.axes[1].get_yticklabels()]
    assert ticks[0] == "0001" and ticks[-1] == "0029"
