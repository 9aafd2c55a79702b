"""The study report: sections (a)–(f) in the figure types of an operando speciation study.

(a) capacity per cycle, voltage curves of chosen cycles, dQ/dV; (b) operando XANES stacks
coloured by state of charge with a pre-edge inset, derivative stacks with c/d/e and γ;
(c) theory spectra and derivatives against cluster radius per phase, α/β and A/B trends;
(d) LCF table, radius landscape, phase fractions against state of charge with
reversibility per cycle (and recovered against true values when the data carry a truth);
(e) edge shift against state of charge for every edge; (f) EELS valence map with region
spectra. Each figure is captioned in words; a section whose stage failed says so.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from speciate._atomic import atomic_write_text
from speciate.provenance import jsonable
from speciate.report.figures import new_figure, save_figure
from speciate.report.interactive import Block, Figure, write_report

__all__ = ["build_report", "state_of_charge"]

_COLORMAP = "plasma"


def _slug(name: str) -> str:
    from speciate.study.api import slug

    return slug(name)


def _fmt(x: float, nd: int = 3) -> str:
    return "n/a" if x is None or not np.isfinite(x) else f"{x:.{nd}f}"


def _corr(a: Any, b: Any) -> float:
    a, b = np.asarray(a, float), np.asarray(b, float)
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 3 or np.std(a[ok]) == 0 or np.std(b[ok]) == 0:
        return float("nan")
    return float(np.corrcoef(a[ok], b[ok])[0, 1])


def state_of_charge(
    spec: Mapping[str, Any], inputs: Mapping[str, Any]
) -> tuple[np.ndarray | None, str, np.ndarray | None, Any]:
    """(state of charge per spectrum, how it was obtained, voltage or None, sync table)."""
    name = spec["name"]
    norm = inputs[f"spectra:{name}"]["norm"]
    how = spec.get("state_of_charge", "echem")
    sync = inputs.get(f"sync:{name}")
    if how == "echem" and sync is not None:
        t = sync["table"]
        return (
            np.asarray(t.state_of_charge, float),
            "cycler record (sync)",
            np.asarray(t.voltage, float),
            t,
        )
    if how not in ("echem", "none") and how in norm.coords:
        return np.asarray(norm.coords[how], float), f"coordinate '{how}' of the data", None, None
    return None, "none", None, None


# --- (a) electrochemistry --------------------------------------------------------------


def _section_a(study: Any, inputs: Mapping[str, Any], figdir: Path, failures: list[str]) -> Block:
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
    cmap = matplotlib.colormaps[_COLORMAP]
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


def _section_b(
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
        png = _stack_figure(norm, soc, table, edge, figdir / f"b_stack_{_slug(name)}.png", name)
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

        cmap = matplotlib.colormaps[_COLORMAP]
        for i in range(norm.n_spectra):
            frac = 0.0 if not np.isfinite(c[i]) or hi == lo else (c[i] - lo) / (hi - lo)
            r, g_, b, _ = cmap(frac)
            pf.add_trace(
                go.Scatter(
                    x=norm.energy[m],
                    y=norm.norm[i, m],
                    mode="lines",
                    line={"color": f"rgb({r * 255:.0f},{g_ * 255:.0f},{b * 255:.0f})", "width": 1},
                    name=f"{norm.labels[i]} (SOC {_fmt(c[i], 2)})",
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
                ident=f"plot_stack_{_slug(name)}",
            )
        )
        if voltage is not None:
            r = _corr(norm.e0, voltage)
            metrics.setdefault("edge_vs_voltage_r", {})[name] = r
            notes.append(
                f"{name}: correlation of the edge energy E0 with the cell voltage "
                f"r = {_fmt(r)} over {int(np.isfinite(voltage).sum())} spectra."
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


def _section_c(study: Any, inputs: Mapping[str, Any], figdir: Path, failures: list[str]) -> Block:
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


def _reversibility(frac: np.ndarray, sync: Any) -> list[tuple[int, float, float, float]]:
    rows = []
    cycle = np.asarray(sync.cycle)
    direction = np.asarray(sync.direction)
    for c in np.unique(cycle[np.isfinite(frac)]):
        ch = (cycle == c) & (direction > 0) & np.isfinite(frac)
        dis = (cycle == c) & (direction < 0) & np.isfinite(frac)
        d_ch = float(frac[ch][-1] - frac[ch][0]) if ch.sum() > 1 else float("nan")
        d_dis = float(frac[dis][-1] - frac[dis][0]) if dis.sum() > 1 else float("nan")
        rev = -d_dis / d_ch if np.isfinite(d_ch) and np.isfinite(d_dis) and d_ch else float("nan")
        rows.append((int(c), d_ch, d_dis, rev))
    return rows


def _weights_table(
    labels: Sequence[str],
    names: Sequence[str],
    weights: np.ndarray,
    stderr: np.ndarray,
    r_factor: np.ndarray,
    extra: Sequence[str] | None = None,
    limit: int = 80,
) -> str:
    head = "".join(f"<th>{html.escape(n)}</th>" for n in names)
    rows = []
    step = max(1, len(labels) // limit)
    for i in range(0, len(labels), step):
        cells = "".join(
            f"<td>{weights[i, j]:.3f} ± {stderr[i, j]:.3f}</td>" for j in range(len(names))
        )
        more = f"<td>{html.escape(extra[i])}</td>" if extra is not None else ""
        rows.append(
            f"<tr><th>{html.escape(str(labels[i]))}</th>{cells}{more}"
            f"<td>{r_factor[i]:.2e}</td></tr>"
        )
    more_head = "<th>best candidate</th>" if extra is not None else ""
    return (
        f"<table class='lcf'><tr><th>spectrum</th>{head}{more_head}<th>R-factor</th></tr>"
        + "".join(rows)
        + "</table>"
    )


def _rows_note(n: int, limit: int = 80) -> str:
    step = max(1, n // limit)
    return "all rows" if step == 1 else f"every {step}th row shown; all rows in results/"


def _section_d(
    study: Any,
    inputs: Mapping[str, Any],
    figdir: Path,
    failures: list[str],
    metrics: dict[str, Any],
) -> Block:
    import plotly.graph_objects as go

    figures: list[Figure] = []
    tables: list[tuple[str, str]] = []
    notes: list[str] = []
    specs = {s["name"]: s for s in study.spectra}
    for i, f in enumerate(study.fits):
        key = f"fit:{f.get('name', i)}"
        fit = inputs.get(key)
        if fit is None:
            continue
        spec = specs[f["spectra"]]
        norm = inputs[f"spectra:{f['spectra']}"]["norm"]
        soc, how, voltage, sync = state_of_charge(spec, inputs)
        x = soc if soc is not None else np.arange(norm.n_spectra, dtype=float)
        xlabel = "state of charge" if soc is not None else "spectrum index"
        opts = {k: v for k, v in fit["options"].items()}
        label = str(f.get("name", f["spectra"]))
        fig, axes = new_figure(ncols=2, size=(5.2, 3.8))
        a, b = axes[0]
        if "lcf" in fit:
            res = fit["lcf"]
            tables.append(
                (
                    f"{label}: weight ± 1σ of each standard and R-factor per spectrum "
                    f"({_rows_note(res.n_spectra)}), fitted over {res.e_range} eV with options "
                    f"{json.dumps(jsonable(opts))}.",
                    _weights_table(
                        res.labels, res.standards, res.weights, res.stderr, res.r_factor
                    ),
                )
            )
            for j, n in enumerate(res.standards):
                a.errorbar(
                    x, res.weights[:, j], yerr=res.stderr[:, j], fmt="o", ms=3, lw=0.7, label=n
                )
                if voltage is not None:
                    r = _corr(res.weights[:, j], voltage)
                    metrics.setdefault("fraction_vs_voltage_r", {})[f"{label}:{n}"] = r
                    notes.append(f"{label}: weight of {n} against cell voltage r = {_fmt(r)}.")
                if sync is not None:
                    rev = _reversibility(res.weights[:, j], sync)
                    rows = "".join(
                        f"<tr><td>{c}</td><td>{_fmt(dc)}</td><td>{_fmt(dd)}</td>"
                        f"<td>{_fmt(rv, 2)}</td></tr>"
                        for c, dc, dd, rv in rev
                    )
                    tables.append(
                        (
                            f"{label}: reversibility of the {n} weight per cycle = "
                            "−(change over the "
                            "discharge)/(change over the charge); n/a where the series covers only "
                            "one direction of that cycle.",
                            "<table><tr><th>cycle</th><th>Δ charge</th><th>Δ discharge</th>"
                            f"<th>reversibility</th></tr>{rows}</table>",
                        )
                    )
        if "combinations" in fit:
            summary = fit["combinations"].summary()
            tables.append(
                (
                    f"{label}: every combination of up to the chosen number of standards, fitted "
                    "to every spectrum (speciate.fit.combinations), best first.",
                    summary.head(40).to_html(float_format=lambda v: f"{v:.4g}", border=0),
                )
            )
        if "scan" in fit:
            sc = fit["scan"]
            cand = sc.best_weights[:, -1]
            cols = np.arange(sc.n_spectra)
            tables.append(
                (
                    f"{label}: weight ± 1σ of the fixed standards and of the best theory "
                    f"candidate, which candidate, and R-factor per spectrum "
                    f"({_rows_note(sc.n_spectra)}); options {json.dumps(jsonable(opts))}.",
                    _weights_table(
                        sc.labels,
                        (*sc.fixed, "candidate"),
                        sc.best_weights,
                        sc.stderr[sc.best_index, cols],
                        sc.best_r_factor,
                        extra=list(sc.best),
                    ),
                )
            )
            if fit["components"]:
                for j, n in enumerate(sc.fixed):
                    a.errorbar(
                        x,
                        sc.best_weights[:, j],
                        yerr=sc.stderr[sc.best_index, cols, j],
                        fmt="o",
                        ms=3,
                        lw=0.7,
                        label=n,
                    )
            a.plot(x, cand, "k^", ms=4, label="best theory candidate")
            names = [f"{p} {r:g} Å" for p, r in zip(sc.phase, sc.radius)]
            order = np.lexsort((sc.radius, sc.phase))
            im = b.imshow(
                np.log10(sc.r_factor[order]),
                aspect="auto",
                cmap="viridis_r",
                interpolation="nearest",
            )
            b.set_yticks(range(len(order)), [names[k] for k in order], fontsize=6)
            b.set(xlabel="spectrum index", title="radius landscape: log10 R-factor")
            fig.colorbar(im, ax=b)
            best_rows = [int(np.nonzero(order == k)[0][0]) for k in sc.best_index]
            b.plot(range(sc.n_spectra), best_rows, "w.", ms=4)
            pf = go.Figure(
                go.Heatmap(
                    z=np.log10(sc.r_factor[order]),
                    y=[names[k] for k in order],
                    x=list(sc.labels),
                    colorscale="Viridis",
                    reversescale=True,
                    colorbar={"title": "log10 R"},
                )
            )
            pf.update_layout(margin={"t": 30}, xaxis_title="spectrum", template="plotly_white")
            figures.append(
                Figure(
                    f"Interactive radius landscape of {label}: log10 R-factor of the fit of every "
                    "spectrum (columns) with the fixed standards plus each theory candidate (rows: "
                    "phase and cluster radius).",
                    plotly=pf,
                    ident=f"plot_landscape_{_slug(label)}",
                )
            )
            truth = dict(spec.get("truth", {}))
            coords = norm.coords
            if truth.get("fraction") in coords or truth.get("radius") in coords:
                fig3, ax3 = new_figure(ncols=2, size=(4.6, 3.6))
                if truth.get("fraction") in coords:
                    tf = np.asarray(coords[truth["fraction"]], float)
                    err = np.abs(cand - tf)
                    metrics.setdefault("synthetic", {})[label] = {
                        "max_fraction_error": float(np.max(err)),
                        "mean_fraction_error": float(np.mean(err)),
                    }
                    ax3[0, 0].plot(x, tf, "k-", label="true")
                    ax3[0, 0].plot(x, cand, "o", ms=4, label="recovered")
                    ax3[0, 0].set(
                        xlabel=xlabel, ylabel=f"{truth.get('component', 'candidate')} fraction"
                    )
                    ax3[0, 0].legend(frameon=False, fontsize=8)
                if truth.get("component"):
                    metrics.setdefault("synthetic", {}).setdefault(label, {})["phase_hit_rate"] = (
                        float(np.mean(np.asarray(sc.best_phase).astype(str) == truth["component"]))
                    )
                if truth.get("radius") in coords:
                    tr = np.asarray(coords[truth["radius"]], float)
                    hit = np.isclose(sc.best_radius, tr)
                    metrics.setdefault("synthetic", {}).setdefault(label, {})["radius_hit_rate"] = (
                        float(hit.mean())
                    )
                    ax3[0, 1].plot(x, tr, "k-", drawstyle="steps-mid", label="true")
                    ax3[0, 1].plot(x, sc.best_radius, "o", ms=4, label="best radius")
                    ax3[0, 1].set(xlabel=xlabel, ylabel="cluster radius (Å)")
                    ax3[0, 1].legend(frameon=False, fontsize=8)
                m = metrics.get("synthetic", {}).get(label, {})
                figures.append(
                    Figure(
                        f"Known truth of the {label} data: left, recovered fraction of the best "
                        "theory "
                        f"candidate against the true fraction (largest error "
                        f"{_fmt(m.get('max_fraction_error', np.nan))}); right, best cluster radius "
                        "per spectrum against the true radius "
                        f"({100 * m.get('radius_hit_rate', np.nan):.0f} % "
                        "exact; best phase the true one for "
                        f"{100 * m.get('phase_hit_rate', np.nan):.0f} % of the spectra).",
                        png=save_figure(fig3, figdir / f"d_truth_{_slug(label)}.png"),
                    )
                )
            notes.append(
                f"{label}: best radius per spectrum ranges "
                f"{np.nanmin(sc.best_radius):g}–{np.nanmax(sc.best_radius):g} Å; band "
                f"threshold {sc.threshold:.3f} (α = {sc.alpha})."
            )
        a.set(xlabel=xlabel, ylabel="weight", title="phase fractions")
        a.legend(fontsize=7, frameon=False)
        if "scan" not in fit:
            b.set_visible(False)
        figures.insert(
            0,
            Figure(
                f"{label}: left, weight of each standard "
                f"({', '.join(fit['components']) or 'none'}) "
                f"with 1σ error bars against the state of charge ({how}); "
                + (
                    "right, R-factor of every theory candidate (phase × cluster radius) for every "
                    "spectrum, the best candidate marked white."
                    if "scan" in fit
                    else ""
                ),
                png=save_figure(fig, figdir / f"d_fit_{_slug(label)}.png"),
            ),
        )
    if not figures:
        failures = failures or ["No fit finished ([fit] absent or failed)."]
    return Block(
        "speciation",
        "(d) Speciation: LCF, radius landscape, fractions against state of charge",
        "",
        figures,
        tables,
        notes,
        failures,
    )


# --- (e) edges ------------------------------------------------------------------------


def _section_e(
    study: Any,
    inputs: Mapping[str, Any],
    figdir: Path,
    failures: list[str],
    metrics: dict[str, Any],
) -> Block:
    import plotly.graph_objects as go

    try:  # a shared per-element table, when the library provides one
        from speciate.features import redox_table  # noqa: F401

        note = (
            "Edge shifts computed here from each series' E0 (maximum of the derivative); "
            "speciate.features.redox_table is available for per-element tables."
        )
    except ImportError:
        note = (
            "Edge shift computed here as E0 − E0 of the first spectrum of each series, E0 the "
            "maximum of the smoothed derivative (no per-element redox table in this version)."
        )
    fig, axes = new_figure(size=(6, 4))
    ax = axes[0, 0]
    pf = go.Figure()
    n = 0
    for spec in study.spectra:
        sp = inputs.get(f"spectra:{spec['name']}")
        if sp is None:
            continue
        soc, _how, _v, _s = state_of_charge(spec, inputs)
        if soc is None:
            continue
        feat = inputs.get(f"features:{spec['name']}")
        e0 = np.asarray(feat["table"]["e0"], float) if feat else np.asarray(sp["norm"].e0)
        if not np.isfinite(e0).any():
            e0 = np.asarray(sp["norm"].e0)
        shift = e0 - e0[np.isfinite(e0)][0]
        label = f"{spec.get('edge', '?')} — {spec['name']}"
        ax.plot(soc, shift, "o-", ms=3, label=label)
        pf.add_trace(go.Scatter(x=soc, y=shift, mode="lines+markers", name=label))
        metrics.setdefault("edge_shift_ev", {})[spec["name"]] = float(
            np.nanmax(shift) - np.nanmin(shift)
        )
        n += 1
    ax.set(xlabel="state of charge", ylabel="edge shift (eV)")
    if n:
        ax.legend(fontsize=7, frameon=False)
    pf.update_layout(
        xaxis_title="state of charge",
        yaxis_title="edge shift (eV)",
        template="plotly_white",
        margin={"t": 30},
    )
    if not n:
        return Block(
            "edges",
            "(e) Edge shift against state of charge",
            failures=failures or ["No series with a state of charge."],
        )
    cap = (
        f"Edge shift against state of charge for {n} series (one line per absorption edge): "
        "E0 of each spectrum minus E0 of the first spectrum of its series."
    )
    return Block(
        "edges",
        "(e) Edge shift against state of charge, per element",
        "",
        [
            Figure(cap, png=save_figure(fig, figdir / "e_edges.png")),
            Figure("Interactive: " + cap, plotly=pf, ident="plot_edges"),
        ],
        notes=[note],
        failures=failures,
    )


# --- (f) EELS ----------------------------------------------------------------------------


def _section_f(
    study: Any,
    inputs: Mapping[str, Any],
    figdir: Path,
    failures: list[str],
    metrics: dict[str, Any],
) -> Block:
    ee = inputs.get("eels")
    if ee is None:
        return Block(
            "eels", "(f) EELS valence map", failures=failures or ["No [eels] table in this study."]
        )
    import plotly.graph_objects as go

    from speciate.eels.plots import valence_figure

    res = ee["result"]
    png = figdir / "f_eels_valence.png"
    valence_figure(res, ee["regions"], png, min_signal=0.2)
    synthetic = "synthetic" in study.eels
    src = (
        "a synthetic spectrum image (Mn4+ core, reduced shell; Poisson noise, drift, plural "
        "scattering) — clearly not measured data"
        if synthetic
        else f"the spectrum image {Path(str(study.eels.get('image'))).name}"
    )
    text = ""
    if ee.get("truth") is not None:
        t = ee["truth"]
        err = np.asarray(res.valence)[t["particle"]] - t["valence"][t["particle"]]
        metrics["eels_valence_mean_abs_error"] = float(np.nanmean(np.abs(err)))
        text = (
            "Mean |valence error| over the particle against the known truth: "
            f"{np.nanmean(np.abs(err)):.3f}."
        )
    cap = (
        f"Left: Mn valence per pixel from MLLS of the background-subtracted L2,3 edges of {src} "
        "against Mn2+/3+/4+ references (background window "
        f"{tuple(study.eels.get('background', (600, 634)))} eV, "
        "pixels with little signal left blank). Right: mean spectra of the regions."
    )
    # the same blanking as the PNG: pixels with little reference weight have no valence
    total = np.asarray(res.coefficients).sum(axis=-1)
    shown = np.where(total > 0.2 * np.nanpercentile(total, 99), np.asarray(res.valence), np.nan)
    pf = go.Figure(
        go.Heatmap(
            z=shown,
            zmin=float(min(res.valences)),
            zmax=float(max(res.valences)),
            colorscale="RdYlGn_r",
            colorbar={"title": "valence"},
        )
    )
    pf.update_layout(
        yaxis={"autorange": "reversed", "scaleanchor": "x"},
        margin={"t": 30},
        template="plotly_white",
    )
    return Block(
        "eels",
        "(f) EELS valence map with region spectra",
        text,
        [
            Figure(cap, png=png),
            Figure(
                "Interactive valence map (hover a pixel for its valence).",
                plotly=pf,
                ident="plot_eels",
            ),
        ],
        failures=failures,
    )


# --- assembly ----------------------------------------------------------------------------


def _status_block(records: Sequence[Any]) -> Block:
    rows = "".join(
        f"<tr><td style='text-align:left'>{html.escape(r.name)}</td>"
        f"<td class='{'bad' if r.status == 'failed' else 'ok'}'>{r.status}</td>"
        f"<td>{r.seconds:.2f}</td><td style='text-align:left'>"
        f"{html.escape(r.error or r.detail or '')}</td></tr>"
        for r in records
    )
    failures = [f"Stage {r.name} failed: {r.error}" for r in records if r.status == "failed"]
    return Block(
        "stages",
        "Stages of this run",
        "Every stage, whether it ran or came from the cache, and its time.",
        tables=[
            (
                "Stage status (ran: computed now; cached: inputs and options unchanged).",
                "<table><tr><th>stage</th><th>status</th><th>s</th><th>message</th></tr>"
                f"{rows}</table>",
            )
        ],
        failures=failures,
    )


def _failures_for(records: Sequence[Any], kinds: Sequence[str]) -> list[str]:
    return [
        f"Stage {r.name} {r.status}: {r.error or r.detail}"
        for r in records
        if r.kind in kinds and r.status in ("failed", "skipped")
    ]


def build_report(study: Any, inputs: Mapping[str, Any]) -> dict[str, Any]:
    """Draw every section and write ``figures/`` and ``report.html``; returns metrics and files."""
    records = inputs.get("__records__", ())
    out = Path(study.output)
    figdir = out / "figures"
    figdir.mkdir(parents=True, exist_ok=True)
    metrics: dict[str, Any] = {}
    builders = [
        (_section_a, ("echem",), False),
        (_section_b, ("spectra", "features", "sync"), True),
        (_section_c, ("theory",), False),
        (_section_d, ("fit", "standards"), True),
        (_section_e, ("spectra", "features"), True),
        (_section_f, ("eels",), True),
    ]
    blocks: list[Block] = []
    for func, kinds, wants_metrics in builders:
        fails = _failures_for(records, kinds)
        try:
            args = (study, inputs, figdir, fails) + ((metrics,) if wants_metrics else ())
            blocks.append(func(*args))
        except Exception as exc:  # a broken figure must not lose the rest of the report
            title = func.__name__.replace("_section_", "section ")
            blocks.append(
                Block(
                    title.replace(" ", "_"),
                    title,
                    failures=[*fails, f"drawing this section failed: {type(exc).__name__}: {exc}"],
                )
            )
    blocks.append(_status_block(records))
    toml_text = study.path.read_text(encoding="utf-8") if study.path else ""
    blocks.append(
        Block(
            "study",
            "Study file",
            "The study file this report was made from.",
            extra_html=f"<pre>{html.escape(toml_text)}</pre>",
        )
    )
    intro = (
        "Made by `speciate run` from the study file below. Results (NetCDF, CSV) are in "
        "results/, the figures in figures/, and provenance.json records input hashes, "
        "options, versions and timings."
    )
    report = write_report(
        out / "report.html", study.report.get("title", study.title), intro, blocks
    )
    atomic_write_text(out / "results" / "metrics.json", json.dumps(jsonable(metrics), indent=1))
    return {
        "metrics": metrics,
        "report": str(report),
        "figures": sorted(str(p) for p in figdir.glob("*.png")),
    }
