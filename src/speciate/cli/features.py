"""`speciate features DATA... -o features.csv [--plot]`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from speciate.cli._common import (
    check_outputs,
    console,
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
            str, typer.Option("--calibration", help="'mn' (Mn K oxides) or 'none'.")
        ] = "mn",
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
        from speciate.errors import ValidationError
        from speciate.features import extract
        from speciate.xanes import normalize

        if calibration not in ("mn", "none"):
            raise ValidationError(f"--calibration must be 'mn' or 'none'; got {calibration!r}")
        sources = parse_sources(data)
        check_outputs(
            [("--output", output), ("--plot", output.with_suffix(".png") if plot else None)],
            input_files(sources),
        )
        series = sio.read_many(
            sources,
            grid=grid,
            energy=energy,
            mu=mu,
            group=parse_group(group),
            duplicates=duplicates,
            sort=sort,
        )
        norm = series if normalized else normalize(series)
        table = extract(
            norm,
            calibration=None if calibration == "none" else "mn",
            smooth_ev=smooth,
            preedge_shape=shape,
        )
        table.to_csv(output)
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
        console.print(f"wrote {table.n_spectra} rows to {output}", highlight=False)
        if plot:
            figure_path = output.with_suffix(".png")
            save_figure(features_figure(norm, table), figure_path, dpi=120)
            console.print(f"wrote figure {figure_path}", highlight=False)
