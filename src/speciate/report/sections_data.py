"""Study report sections (a) electrochemistry, (b) operando XANES and (c) theory against radius."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from speciate.report.figures import new_figure, save_figure
from speciate.report.interactive import Block, Figure
from speciate.report.study_common import COLORMAP, corr, fmt, slug, state_of_charge

__all__ = ["section_a", "section_b", "section_c"]


# --- (a) electrochemistry --------------------------------------------------------------


def section_a(study: Any, inputs: Mapping[str, Any], figdir: Path, failures: list[str]) -> Block:
    from speciate.echem.plots import plot_capacity, plot_curves, plot_dqdv

    ec = inputs.get("echem")
    if ec is None:
        return Block(
            "echem",
            "(a) Electrochemistry",
            failures=failures or ["No cycler data in this study ([echem] absent)."],
        )
    import plotly.graph_objects as go

    cyc, summary, curv, dq = ec["cycling"], ec["summary"], ec["curves"], ec["dqdv"]
    e = study.echem
    mass = e.get("mass_mg")
    files = ", ".join(Path(p).name for p in np.atleast_1d(study.resolve(e["files"])))
    fig, axes = new_figure(ncols=3, size=(4.6, 3.8))
    plot_capacity(summary, axes[0, 0])
    axes[0, 0].set_title("capacity per cycle")
    plot_curves(curv, axes[0, 1])
    axes[0, 1].set_title("voltage curves")
    plot_dqdv(dq, axes[0, 2])
    axes[0, 2].set_title("dQ/dV")
    png = save_figure(fig, figdir / "a_echem.png")
    unit = "mAh/g" if mass else "mAh"
    cap = (
        f"Left: charge (open) and discharge (filled) capacity of every cycle in {unit}"
        + (f" for {mass:g} mg of active material" if mass else " (no active mass given)")
        + f", integrated from the current of the cycler record ({files}). Middle: voltage "
        f"against capacity for cycles {', '.join(map(str, ec['cycles']))} (option "
        "echem.cycles). Right: differential capacity dQ/dV of the same cycles, charge above "
        f"zero and discharge below (options echem.dqdv: {dict(e.get('dqdv', {})) or 'defaults'})."
    )
    pf = go.Figure()
    q = (
        curv.specific_capacity_mah_g
        if curv.specific_capacity_mah_g is not None
        else curv.capacity_mah
    )
    starts = np.flatnonzero(np.diff(curv.half_cycle, prepend=-1))
    stops = np.append(starts[1:], curv.half_cycle.size)
    for a, b in zip(starts, stops):
        step = max(1, (b - a) // 400)
        d = "charge" if curv.direction[a] > 0 else "discharge"
        pf.add_trace(
            go.Scatter(
                x=q[a:b:step],
                y=curv.voltage_v[a:b:step],
                mode="lines",
                name=f"cycle {int(curv.cycle[a])} {d}",
            )
        )
    pf.update_layout(
        xaxis_title=f"capacity ({unit})",
        yaxis_title="voltage (V)",
        margin={"t": 30},
        template="plotly_white",
    )
    df = summary.to_dataframe()
    text = (
        f"{cyc.n_rows} cycler rows over {cyc.time_s[-1] / 3600:.1f} h, "
        f"{len(summary.cycle)} cycle(s); voltage {np.nanmin(cyc.voltage_v):.2f}–"
        f"{np.nanmax(cyc.voltage_v):.2f} V."
    )
    return Block(
        "echem",
        "(a) Electrochemistry: capacity, voltage curves, dQ/dV",
        text,
        [
            Figure(cap, png=png),
            Figure(
                "Interactive: voltage against capacity of each half-cycle "
                "(hover for values, drag to zoom).",
                plotly=pf,
                ident="plot_echem",
            ),
        ],
        tables=[
            (
                "Per-cycle summary computed by speciate from the cycler record.",
                df.to_html(float_format=lambda v: f"{v:.4g}", border=0),
            )
        ],
        failures=failures,
    )


# --- (b) operando XANES ------------------------------------------------------------------


def _stack_figure(
    norm: Any, soc: np.ndarray | None, table: Any, edge: str, path: Path, name: str = ""
) -> Path:
    import matplotlib
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    fig, axes = new_figure(ncols=2, size=(5.2, 4.6))
    ax, axd = axes[0]
    n = norm.n_spectra
    c = soc if soc is not None and np.isfinite(soc).any() else np.arange(n, dtype=float)
    lo, hi = float(np.nanmin(c)), float(np.nanmax(c))
    cmap = matplotlib.colormaps[COLORMAP]
    scale = Normalize(lo, hi if hi > lo else lo + 1)
    e0 = float(np.median(norm.e0))
    win = (e0 - 25.0, e0 + 60.0)
    for i in range(n):
        col = cmap(scale(c[i])) if np.isfinite(c[i]) else "0.6"
        ax.plot(norm.energy, norm.norm[i], color=col, lw=0.8)
    ax.set(xlim=win, xlabel="Energy (eV)", ylabel="Normalized μ(E)")
    ax.set_title(name or f"{edge} XANES", fontsize=10)
    fig.colorbar(
        ScalarMappable(scale, cmap),
        ax=ax,
        label="state of charge" if soc is not None else "spectrum index",
    )
    pre = (e0 - 22.0, e0 - 5.0)
    if table is not None and "preedge" in table.details:
        pre = tuple(getattr(table.details["preedge"], "window", pre))
    inset = ax.inset_axes((0.5, 0.08, 0.46, 0.38))
    m = (norm.energy >= pre[0]) & (norm.energy <= pre[1])
    for i in range(n):
        col = cmap(scale(c[i])) if np.isfinite(c[i]) else "0.6"
        inset.plot(norm.energy[m], norm.norm[i, m], color=col, lw=0.7)
    inset.set_title("pre-edge", fontsize=7)
    inset.tick_params(labelsize=6)
    if table is not None:
        from speciate.features.plots import plot_derivative_stack

        try:
            plot_derivative_stack(norm, table, ax=axd)
            g = np.asarray(table["gamma_deg"], float)
            if np.isfinite(g).any():
                axd.set_title(f"dμ/dE: c/d/e maxima, γ {np.nanmin(g):.0f}–{np.nanmax(g):.0f}°")
        except Exception as exc:  # e.g. a triplet window outside this edge
            axd.text(
                0.5,
                0.5,
                f"no derivative stack:\n{exc}",
                ha="center",
                va="center",
                transform=axd.transAxes,
                fontsize=8,
                wrap=True,
            )
    return save_figure(fig, path)


def section_b(
    study: Any,
    inputs: Mapping[str, Any],
    figdir: Path,
    failures: list[str],
    metrics: dict[str, Any],
) -> Block:
    import plotly.graph_objects as go

    figures: list[Figure] = []
    notes: list[str] = []
    for spec in study.spectra:
        name = spec["name"]
        sp = inputs.get(f"spectra:{name}")
        if sp is None:
            continue
        norm = sp["norm"]
        feat = inputs.get(f"features:{name}")
        table = feat["table"] if feat else None
        soc, how, voltage, _sync = state_of_charge(spec, inputs)
        edge = spec.get("edge") or "XANES"
        png = _stack_figure(norm, soc, table, edge, figdir / f"b_stack_{slug(name)}.png", name)
        tri = ""
        if table is not None:
            g = np.asarray(table["gamma_deg"], float)
            tri = (
                f" Right: smoothed first derivative of each spectrum, offset, with its c, d "
                f"and e maxima (red circle, triangle, square) and the c–e line whose angle is γ "
                f"({np.isfinite(g).sum()} of {norm.n_spectra} spectra show all three maxima)."
            )
        figures.append(
            Figure(
                f"{name}: left, the {norm.n_spectra} normalized {edge} spectra coloured by state "
                f"of charge (from the {how}), with the pre-edge region enlarged in the inset; "
                f"normalization options {dict(spec.get('normalize', {})) or 'defaults'}." + tri,
                png=png,
            )
        )
        pf = go.Figure()
        e0 = float(np.median(norm.e0))
        m = (norm.energy > e0 - 30) & (norm.energy < e0 + 80)
        c = soc if soc is not None else np.arange(norm.n_spectra, dtype=float)
        lo, hi = float(np.nanmin(c)), float(np.nanmax(c))
        import matplotlib

        cmap = matplotlib.colormaps[COLORMAP]
        for i in range(norm.n_spectra):
            frac = 0.0 if not np.isfinite(c[i]) or hi == lo else (c[i] - lo) / (hi - lo)
            r, g_, b, _ = cmap(frac)
            pf.add_trace(
                go.Scatter(
                    x=norm.energy[m],
                    y=norm.norm[i, m],
                    mode="lines",
                    line={"color": f"rgb({r * 255:.0f},{g_ * 255:.0f},{b * 255:.0f})", "width": 1},
                    name=f"{norm.labels[i]} (SOC {fmt(c[i], 2)})",
                    showlegend=False,
                )
            )
        pf.update_layout(
            xaxis_title="Energy (eV)",
            yaxis_title="Normalized μ(E)",
            template="plotly_white",
            margin={"t": 30},
        )
        figures.append(
            Figure(
                f"Interactive: the {name} spectra, coloured by state of charge "
                "(hover a curve for its label and state of charge).",
                plotly=pf,
                ident=f"plot_stack_{slug(name)}",
            )
        )
        if voltage is not None:
            r = corr(norm.e0, voltage)
            metrics.setdefault("edge_vs_voltage_r", {})[name] = r
            notes.append(
                f"{name}: correlation of the edge energy E0 with the cell voltage "
                f"r = {fmt(r)} over {int(np.isfinite(voltage).sum())} spectra."
            )
    if not figures:
        failures = failures or ["No spectra series finished."]
    return Block(
        "operando",
        "(b) Operando XANES against state of charge",
        "",
        figures,
        notes=notes,
        failures=failures,
    )


# --- (c) theory --------------------------------------------------------------------------


def section_c(study: Any, inputs: Mapping[str, Any], figdir: Path, failures: list[str]) -> Block:
    th = inputs.get("theory")
    if th is None:
        return Block(
            "theory",
            "(c) Theory spectra against cluster radius",
            failures=failures or ["No [theory] table in this study."],
        )
    import matplotlib
    import plotly.graph_objects as go

    from speciate.features import extract
    from speciate.xanes import derivative

    series = th["series"]
    phases = np.asarray(series.coords["phase"]).astype(str)
    radii = np.asarray(series.coords["radius"], float)
    uniq = list(dict.fromkeys(phases.tolist()))
    deriv = derivative(series)
    try:
        table = extract(series, calibration=None)
    except Exception as exc:
        table = None
        failures = [*failures, f"fingerprints of the theory spectra failed: {exc}"]
    fig, axes = new_figure(ncols=len(uniq), nrows=2, size=(3.8, 3.2))
    cmap = matplotlib.colormaps["viridis"]
    rmin, rmax = float(np.nanmin(radii)), float(np.nanmax(radii))
    e_lo, e_hi = float(np.median(series.energy)) - 1e9, 1e9
    for j, ph in enumerate(uniq):
        idx = np.nonzero(phases == ph)[0]
        idx = idx[np.argsort(radii[idx])]
        for i in idx:
            col = cmap((radii[i] - rmin) / max(rmax - rmin, 1e-9))
            axes[0, j].plot(series.energy, series.mu[i], color=col, lw=0.9, label=f"{radii[i]:g} Å")
            axes[1, j].plot(deriv.energy, deriv.mu[i], color=col, lw=0.9)
        lo = float(series.energy[0])
        axes[0, j].set(
            title=ph,
            xlabel="Energy (eV)",
            ylabel="normalized μ",
            xlim=(max(lo, e_lo), min(lo + 70, e_hi)),
        )
        axes[1, j].set(xlabel="Energy (eV)", ylabel="dμ/dE", xlim=axes[0, j].get_xlim())
        axes[0, j].legend(fontsize=6, frameon=False)
    png1 = save_figure(fig, figdir / "c_theory_radius.png")
    src = (
        "precomputed FEFF10 spectra bundled with the study"
        if th["source"] == "precomputed"
        else f"a {th['engine']} sweep run now ({th['engine_runs']} engine runs)"
    )
    t = study.theory
    cap1 = (
        f"Top: computed {t.get('absorber', 'Mn')} K XANES of {', '.join(uniq)} for "
        f"absorber-centred clusters of radius {rmin:g}–{rmax:g} Å (colour: radius), from {src}; "
        f"normalized per absorbing atom, Gaussian broadening "
        f"{t.get('broadening', {}).get('fwhm', 'none')} eV FWHM, energy shift "
        f"{float(t.get('shift', 0.0)):+.2f} eV onto the experimental scale (options "
        "theory.broadening, theory.shift). Bottom: their first derivatives."
    )
    figures = [Figure(cap1, png=png1)]
    if table is not None:
        fig2, ax2 = new_figure(ncols=3, size=(4.2, 3.6))
        a, c, b = ax2[0]
        for k, ph in enumerate(uniq):
            idx = np.nonzero(phases == ph)[0]
            idx = idx[np.argsort(radii[idx])]
            r = radii[idx]
            col = f"C{k}"
            a.plot(r, np.asarray(table["white_line_height"])[idx], "o-", color=col, label=ph)
            c.plot(r, np.asarray(table["edge_shape"])[idx], "s-", color=col, label=ph)
            b.plot(r, np.asarray(table["preedge_a_height"])[idx], "o-", color=col, label=f"{ph} A")
            b.plot(r, np.asarray(table["preedge_b_height"])[idx], "s--", color=col, label=f"{ph} B")
        a.set(xlabel="cluster radius (Å)", ylabel="white-line height α (norm)", title="α")
        c.set(xlabel="cluster radius (Å)", ylabel="edge shape β", title="β")
        b.set(xlabel="cluster radius (Å)", ylabel="pre-edge peak height (norm)", title="A, B")
        pre = np.asarray(table["preedge_a_height"], float)
        if not np.isfinite(pre).any():
            b.text(
                0.5,
                0.5,
                "no pre-edge peak A/B found in any\ncomputed spectrum",
                ha="center",
                va="center",
                transform=b.transAxes,
            )
        else:
            b.legend(fontsize=7, frameon=False)
        a.legend(fontsize=7, frameon=False)
        png2 = save_figure(fig2, figdir / "c_theory_trends.png")
        figures.append(
            Figure(
                "White-line height α (left) and edge shape β (middle) of each computed spectrum "
                "against cluster radius, per phase; right, heights of the pre-edge peaks A and B "
                "against "
                "radius (NaN where no peak was found). Measured with speciate.features.extract on "
                "the broadened, normalized theory spectra.",
                png=png2,
            )
        )
    pf = go.Figure()
    for i in np.lexsort((radii, phases)):
        pf.add_trace(
            go.Scatter(
                x=series.energy, y=series.mu[i], mode="lines", name=f"{phases[i]} {radii[i]:g} Å"
            )
        )
    pf.update_layout(
        xaxis_title="Energy (eV)",
        yaxis_title="normalized μ",
        template="plotly_white",
        margin={"t": 30},
    )
    figures.append(
        Figure(
            "Interactive: every computed spectrum by phase and radius "
            "(click legend entries to hide or show).",
            plotly=pf,
            ident="plot_theory",
        )
    )
    notes = [f"theory point failed: {f}" for f in th.get("failures", [])]
    return Block(
        "theory",
        "(c) Theory spectra against cluster radius",
        "",
        figures,
        notes=notes,
        failures=failures,
    )


# --- (d) speciation ------------------------------------------------------------------------
