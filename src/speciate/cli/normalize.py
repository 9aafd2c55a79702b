"""`speciate normalize INPUTS... -o out.nc [--plot out.png]`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from speciate.cli._common import (
    check_outputs,
    console,
    input_files,
    parse_float_list,
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
    ReferenceOpt,
    SortOpt,
)
from speciate.errors import ValidationError

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    from matplotlib.figure import Figure

    from speciate.xanes import NormResult

_SHOWN_ROWS = 12


def parse_range(text: str, name: str) -> tuple[float, float | None]:
    """``"-200,-30"`` -> (-200.0, -30.0); ``"50,"`` -> (50.0, None) (open end)."""
    parts = text.split(",")
    if len(parts) != 2 or not parts[0].strip():
        raise ValidationError(f"{name} expects 'start,end' in eV relative to E0; got {text!r}")
    start = parse_float_list(parts[0], name)[0]
    end = parse_float_list(parts[1], name)[0] if parts[1].strip() else None
    return start, end


def plot_normalized(result: NormResult, path: Path) -> None:
    """Save `normalized_figure` to ``path``, atomically."""
    save_figure(normalized_figure(result), path, dpi=120)


def normalized_figure(result: NormResult) -> Figure:
    """Every normalized spectrum, legend up to 12, colour bar beyond."""
    import matplotlib
    import numpy as np
    from matplotlib.figure import Figure

    from speciate._figstyle import legend_or_colorbar

    fig = Figure(figsize=(7, 4.5), layout="constrained")
    ax = fig.add_subplot()
    n = result.n_spectra
    colours = matplotlib.colormaps["viridis"](np.linspace(0.0, 0.9, n))
    for i in range(n):
        ax.plot(result.energy, result.norm[i], lw=0.8, color=colours[i], label=result.labels[i])
    ax.set_xlabel("energy (eV)")
    ax.set_ylabel("normalized μ(E)")
    lo, hi = float(result.e0.min()), float(result.e0.max())
    ax.set_xlim(max(result.energy[0], lo - 50), min(result.energy[-1], hi + 100))
    what = "normalized spectrum" if n == 1 else f"{n} normalized spectra"
    ax.set_title(f"{what}, E0 {lo:.1f}–{hi:.1f} eV", fontsize="medium")
    legend_or_colorbar(ax, result.labels, colours=colours if n > 12 else None, loc="lower right")
    return fig


def summary_table(result: NormResult, shifts: np.ndarray | None = None) -> Table:
    """E0, edge step (and alignment shift) of the first spectra, for the terminal."""
    table = Table("label", "E0 (eV)", "edge step", *([] if shifts is None else ["shift (eV)"]))
    for i in range(min(result.n_spectra, _SHOWN_ROWS)):
        extra = [] if shifts is None else [f"{shifts[i]:+.3f}"]
        table.add_row(result.labels[i], f"{result.e0[i]:.2f}", f"{result.edge_step[i]:.4g}", *extra)
    if result.n_spectra > _SHOWN_ROWS:
        table.add_row(f"... {result.n_spectra - _SHOWN_ROWS} more")
    return table


def register(app: typer.Typer) -> None:
    """Add the ``normalize`` command."""

    @app.command()
    def normalize(
        inputs: Annotated[
            list[str],
            typer.Argument(
                help="Files, folders or glob patterns, in order; FILE:GROUP picks project groups."
            ),
        ],
        output: Annotated[Path, typer.Option("--output", "-o", help="NetCDF file to write (.nc).")],
        plot: Annotated[
            Path | None, typer.Option("--plot", help="Also save a figure (png, pdf, svg).")
        ] = None,
        energy: EnergyOpt = None,
        mu: MuOpt = None,
        reference: ReferenceOpt = None,
        group: GroupOpt = None,
        duplicates: DuplicatesOpt = "error",
        sort: SortOpt = False,
        grid: GridOpt = None,
        e0: Annotated[
            float | None, typer.Option("--e0", help="Edge energy (eV) for every spectrum.")
        ] = None,
        pre: Annotated[
            str | None,
            typer.Option(
                "--pre",
                help="Pre-edge range 'start,end', eV relative to E0 (default: chosen per "
                "spectrum from the data, as speciate.xanes.normalize does).",
            ),
        ] = None,
        post: Annotated[
            str | None,
            typer.Option(
                "--post",
                help="Post-edge range 'start,end' (end may be empty; default: chosen per "
                "spectrum).",
            ),
        ] = None,
        post_order: Annotated[
            int | None,
            typer.Option(
                "--post-order",
                help="Post-edge degree (default: from the post-edge span; 2 when --post is given).",
            ),
        ] = None,
        step: Annotated[
            float | None,
            typer.Option("--step", help="Fixed edge step for every spectrum (Athena's fix step)."),
        ] = None,
        shared_e0: Annotated[
            bool,
            typer.Option("--shared-e0", help="One E0 for the whole series (the median)."),
        ] = False,
        kind: Annotated[str, typer.Option("--kind", help="What to write: norm or flat.")] = "norm",
        align: Annotated[
            bool,
            typer.Option(
                "--align",
                help="Align in energy first: reference channel (else mu) onto the first one's.",
            ),
        ] = False,
        foil_e0: Annotated[
            float | None,
            typer.Option(
                "--foil-e0",
                help="Align so the reference foil's edge sits here (eV, e.g. 6539.0 for Mn); "
                "implies --align.",
            ),
        ] = None,
    ) -> None:
        """Read spectra, optionally align them, normalize them all at once, write NetCDF."""
        import speciate.io as sio
        from speciate.xanes import align as align_series
        from speciate.xanes import normalize as normalize_series

        if kind not in ("norm", "flat"):
            raise ValidationError(f"--kind must be 'norm' or 'flat'; got {kind!r}")
        pre_range = None if pre is None else parse_range(pre, "--pre")
        if pre_range is not None and pre_range[1] is None:
            raise ValidationError(f"--pre needs both ends; got {pre!r}")
        post_range = None if post is None else parse_range(post, "--post")
        sources = parse_sources(inputs)
        check_outputs([("--output", output), ("--plot", plot)], input_files(sources))
        series = sio.read_many(
            sources,
            grid=grid,
            energy=energy,
            mu=mu,
            reference=reference,
            group=parse_group(group),
            duplicates=duplicates,
            sort=sort,
        )
        shifts = None
        if align or foil_e0 is not None:
            aligned = align_series(series, target=foil_e0)
            series, shifts = aligned.series, aligned.shifts
        result = normalize_series(
            series,
            e0=e0,
            pre=pre_range,
            post=post_range,
            post_order=post_order,
            step=step,
            shared_e0=shared_e0,
        )
        result.to_series(kind).to_netcdf(output)
        if plot is not None:
            plot_normalized(result, plot)
        console.print(summary_table(result, shifts))
        console.print(f"wrote {result.n_spectra} {kind} spectra to {output}", highlight=False)
        if plot is not None:
            console.print(f"wrote figure {plot}", highlight=False)
