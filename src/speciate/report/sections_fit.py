"""Study report section (d): LCF table, radius landscape, fractions against state of charge."""

from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from speciate.provenance import jsonable
from speciate.report.figures import new_figure, save_figure
from speciate.report.interactive import Block, Figure
from speciate.report.study_common import corr, fmt, slug, state_of_charge

__all__ = ["section_d"]


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


def section_d(
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
                    r = corr(res.weights[:, j], voltage)
                    metrics.setdefault("fraction_vs_voltage_r", {})[f"{label}:{n}"] = r
                    notes.append(f"{label}: weight of {n} against cell voltage r = {fmt(r)}.")
                if sync is not None:
                    rev = _reversibility(res.weights[:, j], sync)
                    rows = "".join(
                        f"<tr><td>{c}</td><td>{fmt(dc)}</td><td>{fmt(dd)}</td>"
                        f"<td>{fmt(rv, 2)}</td></tr>"
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
                    ident=f"plot_landscape_{slug(label)}",
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
                        f"{fmt(m.get('max_fraction_error', np.nan))}); right, best cluster radius "
                        "per spectrum against the true radius "
                        f"({100 * m.get('radius_hit_rate', np.nan):.0f} % "
                        "exact; best phase the true one for "
                        f"{100 * m.get('phase_hit_rate', np.nan):.0f} % of the spectra).",
                        png=save_figure(fig3, figdir / f"d_truth_{slug(label)}.png"),
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
                png=save_figure(fig, figdir / f"d_fit_{slug(label)}.png"),
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
