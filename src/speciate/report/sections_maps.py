"""Study report sections (e) edge shift per element and (f) EELS valence maps."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from speciate.report.figures import new_figure, save_figure
from speciate.report.interactive import Block, Figure
from speciate.report.study_common import state_of_charge

__all__ = ["section_e", "section_f"]


def section_e(
    study: Any,
    inputs: Mapping[str, Any],
    figdir: Path,
    failures: list[str],
    metrics: dict[str, Any],
) -> Block:
    import plotly.graph_objects as go

    note = (
        "Edge shifts computed here from each series' E0 (maximum of the derivative); "
        "speciate.features.redox_table is available for per-element tables."
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


def section_f(
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
