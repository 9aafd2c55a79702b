"""`speciate features DATA... -o features.csv [--plot] [--edge Ni-K] [--window edge=LO:HI]`.

With ``--by-edge`` every DATA argument is one edge of the same study (``mn.nc ni.nc``)
and the output is the per-element redox table (`speciate.features.redox_table`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer
from rich.table import Table

from speciate.cli._common import (
    check_outputs,
    console,
    err_console,
    input_files,
    parse_group,
    parse_sources,
    save_figure,
)
from speciate.cli.info import (
    DuplicatesOpt,
    EnergyOpt,
    GridOpt,
    GroupOpt,
    MuOpt,
    SortOpt,
)
from speciate.errors import ValidationError

__all__ = ["parse_windows", "register"]

_SHOWN_ROWS = 12
_SHOWN_COLUMNS = (
    ("e_integral", "E int (eV)", ".2f"),
    ("valence", "valence", ".2f"),
    ("preedge_centroid", "pre-edge (eV)", ".2f"),
    ("white_line_energy", "α (eV)", ".2f"),
    ("edge_shape", "β", ".3f"),
    ("triplet_n_maxima", "maxima", ".0f"),
    ("gamma_deg", "γ (deg)", ".1f"),
)

EdgeOpt = Annotated[
    str | None,
    typer.Option("--edge", help="Absorber and edge, e.g. Ni-K (default: from the file or E0)."),
]
WindowOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--window",
        help="NAME=LO:HI in eV (repeatable); NAME is edge, preedge, white_line or triplet.",
    ),
]


def _cell(value: float, fmt: str) -> str:
    return "–" if value != value else format(value, fmt)


def features_figure(norm, table):
    """`plot_features` with the spectra named (legend up to 12, colour bar beyond)."""
    from speciate._figstyle import legend_or_colorbar
    from speciate.features.plots import plot_features

    fig = plot_features(norm, table)
    ax = fig.axes[-1]
    stacks = [c for c in ax.collections if len(c.get_paths()) == table.n_spectra]
    if stacks:
        legend_or_colorbar(
            ax, table.labels, colours=stacks[0].get_colors(), loc="upper left",
            bbox_to_anchor=(1.01, 1.0),
        )  # fmt: skip
    fig.suptitle(f"fingerprints of {table.n_spectra} spectra", fontsize="medium")
    return fig


def parse_windows(items: list[str] | None) -> dict[str, tuple[float, float]]:
    """``["edge=8330:8365", ...]`` -> ``{"edge": (8330.0, 8365.0)}`` (eV)."""
    out: dict[str, tuple[float, float]] = {}
    for item in items or []:
        name, sep, rng = item.partition("=")
        lo, colon, hi = rng.partition(":")
        try:
            if not sep or not colon:
                raise ValueError(item)
            out[name.strip()] = (float(lo), float(hi))
        except ValueError:
            raise ValidationError(
                f"--window expects NAME=LO:HI in eV, such as 'edge=8330:8365'; got {item!r}"
            ) from None
    return out


def _warn_missing(table: Any) -> list[str]:
    """One warning per feature column that is NaN for every spectrum; returns the names."""
    missing = []
    for name, values in table.columns.items():
        if np.isfinite(values).any():
            continue
        why = [r for r in table.reason(name) if r]
        reason = max(set(why), key=why.count) if why else "no value measured"
        err_console.print(
            f"warning: {name} is NaN for every spectrum: {reason}",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )
        missing.append(name)
    return missing


def _show(table: Any) -> None:
    shown = Table("label", *(title for _, title, _ in _SHOWN_COLUMNS))
    for i in range(min(table.n_spectra, _SHOWN_ROWS)):
        cells = [
            _cell(float(table[name][i]), fmt)
            for name, _, fmt in _SHOWN_COLUMNS
            if name in table.columns
        ]
        shown.add_row(table.labels[i], *cells)
    if table.n_spectra > _SHOWN_ROWS:
        shown.add_row(f"... {table.n_spectra - _SHOWN_ROWS} more")
    console.print(shown)


def _edge_line(meta: dict[str, Any]) -> str:
    edge = meta.get("edge")
    if edge is None:
        return f"edge unknown: {meta.get('edge_reason', '')}"
    how = {"file": "from the file", "user": "given", "inferred": "inferred from E0"}
    extra = ""
    if edge.get("source") == "inferred" and "distance_ev" in edge:
        extra = f", E0 {edge['distance_ev']:+.1f} eV from the tabulated {edge['energy']:.1f} eV"
    return f"edge {edge['element']} {edge['edge']} ({how.get(edge.get('source'), '')}{extra})"


def _save(fig: Any, path: Path) -> None:
    save_figure(fig, path, dpi=120)
    console.print(f"wrote figure {path}", highlight=False)


def register(app: typer.Typer) -> None:
    """Add the ``features`` command."""

    @app.command()
    def features(
        data: Annotated[
            list[str],
            typer.Argument(
                help="Files, folders or glob patterns; FILE:GROUP picks project groups."
            ),
        ],
        output: Annotated[Path, typer.Option("--output", "-o", help="CSV file to write.")],
        plot: Annotated[
            bool, typer.Option("--plot", help="Also save <output>.png: pre-edge and triplet.")
        ] = False,
        normalized: Annotated[
            bool, typer.Option("--normalized", help="The data are already normalized.")
        ] = False,
        calibration: Annotated[
            str,
            typer.Option(
                "--calibration", help="'mn' (Mn K oxides), 'none' or a calibration JSON file."
            ),
        ] = "mn",
        edge: EdgeOpt = None,
        window: WindowOpt = None,
        by_edge: Annotated[
            bool,
            typer.Option(
                "--by-edge",
                help="Each DATA is one edge of one study: write the per-element redox table.",
            ),
        ] = False,
        by: Annotated[
            str | None,
            typer.Option("--by", help="With --by-edge: state-of-charge coordinate (x_li...)."),
        ] = None,
        shape: Annotated[
            str, typer.Option("--preedge-shape", help="gaussian, pseudo-voigt or lorentzian.")
        ] = "gaussian",
        smooth: Annotated[
            float, typer.Option("--smooth", help="Derivative smoothing width (eV).")
        ] = 1.0,
        grid: GridOpt = None,
        energy: EnergyOpt = None,
        mu: MuOpt = None,
        group: GroupOpt = None,
        duplicates: DuplicatesOpt = "error",
        sort: SortOpt = False,
    ) -> None:
        """Measure every fingerprint feature (edge, valence, A/B, α, β, c/d/e, γ) to CSV."""
        import speciate.io as sio
        from speciate.edges import parse_edge, with_edge
        from speciate.features import extract, load_calibration
        from speciate.xanes import normalize

        windows = parse_windows(window)
        try:
            cal = load_calibration(calibration)
        except ValidationError as exc:
            raise ValidationError(f"--calibration: {exc}") from None
        if edge is not None:
            parse_edge(edge)

        sources = parse_sources(data)
        figure_path = output.with_suffix(".png") if plot else None
        check_outputs([("--output", output), ("--plot", figure_path)], input_files(sources))

        def read(paths: list[Any]) -> Any:
            series = sio.read_many(
                paths, grid=grid, energy=energy, mu=mu, group=parse_group(group),
                duplicates=duplicates, sort=sort,
            )  # fmt: skip
            norm = series if normalized else normalize(series)
            return with_edge(norm, edge)

        if by_edge:
            _redox(sources, read, windows, by, smooth, output, plot)
            return
        norm = read(sources)
        with np.errstate(all="ignore"):
            table = extract(
                norm, windows=windows or None, calibration=cal, smooth_ev=smooth,
                preedge_shape=shape, edge=edge,
            )  # fmt: skip
        table.to_csv(output)
        _show(table)
        console.print(_edge_line(dict(table.meta)), highlight=False)
        missing = _warn_missing(table)
        console.print(f"wrote {table.n_spectra} rows to {output}", highlight=False)
        if plot:
            _save(features_figure(norm, table), output.with_suffix(".png"))
            if missing:
                console.print(f"not in the figure (no values): {', '.join(missing)}",
                              highlight=False)  # fmt: skip


def _redox(data, read, windows, by, smooth, output, plot) -> None:
    from speciate.edges import edge_from_meta
    from speciate.features import redox_table

    norms: dict[str, Any] = {}
    for item in data:
        norm = read([item])
        found = edge_from_meta(norm.meta)
        if found is None:
            raise ValidationError(
                f"{item}: {norm.meta.get('edge_reason', 'edge unknown')} (--by-edge needs the "
                "edge of every series; give --edge for a single series)"
            )
        if found.name in norms:
            raise ValidationError(
                f"two series are at the {found.name} edge; --by-edge needs one series per edge"
            )
        norms[found.name] = norm
    per_edge = {k: windows for k in norms} if windows else None
    result = redox_table(norms, state_of_charge=by, windows=per_edge, smooth_ev=smooth)
    df = result.to_dataframe()
    from speciate._atomic import atomic_path

    with atomic_path(output) as tmp:
        df.to_csv(tmp)
    shown = Table("edge", f"eV per {result.unit}", "total (eV)", "return (eV)", "active")
    for k, name in enumerate(result.edges):
        shown.add_row(
            name,
            f"{result.shift_per_unit[k]:+.3f} ± {result.shift_stderr[k]:.3f}",
            f"{result.total_shift_ev[k]:+.2f}",
            f"{result.return_ev[k]:+.2f}",
            "yes" if result.active[k] else "no",
        )
    console.print(shown)
    console.print(f"wrote {len(result.edges)} edges to {output}", highlight=False)
    if plot:
        _save(result.plot(), output.with_suffix(".png"))
