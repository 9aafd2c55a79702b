"""`speciate sync SPECTRA... --cycler FILE... -o table.csv [--plot]`: one row per spectrum
with time, voltage, capacity, state of charge, x_Li, edge energy (and features, LCF
weights)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from speciate.cli._common import (
    check_outputs,
    console,
    err_console,
    input_files,
    parse_group,
    parse_sources,
    parse_span,
    save_figure,
)
from speciate.cli.echem import (
    ColumnsOpt,
    FirstOpt,
    InvertOpt,
    RepairOpt,
    check_first,
    read_cycling,
)
from speciate.cli.fit import parse_e_range, read_standards
from speciate.cli.info import (
    DuplicatesOpt,
    EnergyOpt,
    GridOpt,
    GroupOpt,
    MuOpt,
    SortOpt,
    StdEnergyOpt,
    StdGroupOpt,
    StdMuOpt,
)

_SHOWN_ROWS = 12


def _preview(frame) -> Table:
    import pandas as pd

    shown = [("label", "label", "{}"), ("voltage_v", "V", "{:.3f}"),
             ("state_of_charge", "SOC", "{:.2f}"), ("x_li", "x_Li", "{:.3f}"),
             ("e0_ev", "E0 (eV)", "{:.2f}"), ("e_half_ev", "E½ (eV)", "{:.2f}"),
             ("r_factor", "R", "{:.2g}")]  # fmt: skip
    cols = [c for c in shown if c[0] in frame]
    out = Table(*(title for _, title, _ in cols))
    half = _SHOWN_ROWS // 2
    long = len(frame) > _SHOWN_ROWS
    # an operando series is read start to end: show both
    for k, (_, row) in enumerate((pd.concat([frame.head(half), frame.tail(half)]) if long
                                  else frame).iterrows()):  # fmt: skip
        if long and k == half:
            out.add_row(f"... {len(frame) - 2 * half} more")
        out.add_row(*("–" if row[n] != row[n] else fmt.format(row[n]) for n, _, fmt in cols))
    return out


def register(app: typer.Typer) -> None:
    """Add the ``sync`` command."""

    @app.command()
    def sync(
        spectra: Annotated[
            list[str],
            typer.Argument(help="Spectrum files, folders or globs (with acquisition times)."),
        ],
        cycler: Annotated[
            list[Path],
            typer.Option("--cycler", "-c", help="Cycler file of the cell; repeat for more."),
        ],
        output: Annotated[Path, typer.Option("--output", "-o", help="CSV table to write.")],
        offset: Annotated[
            float, typer.Option("--offset", help="Cycler clock minus beamline clock (s).")
        ] = 0.0,
        duration: Annotated[
            float | None,
            typer.Option("--duration", help="Spectrum duration (s): use mid-points."),
        ] = None,
        mass: Annotated[
            float | None, typer.Option("--mass", help="Active mass (mg), for mAh/g and x_Li.")
        ] = None,
        formula: Annotated[
            str | None,
            typer.Option("--formula", help="Active material as weighed, e.g. LiNiO2 (x_Li)."),
        ] = None,
        x_li_initial: Annotated[
            float, typer.Option("--x-li-initial", help="Li per formula unit at the start.")
        ] = 1.0,
        edge_window: Annotated[
            str | None,
            typer.Option(
                "--edge-window",
                help="Edge search window LOW:HIGH (eV); default around the spectra's E0.",
            ),
        ] = None,
        features: Annotated[
            bool, typer.Option("--features", help="Add every fingerprint feature (Mn K).")
        ] = False,
        standards: Annotated[
            list[str] | None,
            typer.Option("--standards", "-s", help="LCF standards (FILE:GROUP picks groups)."),
        ] = None,
        e_range: Annotated[
            str, typer.Option("--e-range", help="LCF window 'start,end' in eV from E0.")
        ] = "-20,60",
        plot: Annotated[
            bool, typer.Option("--plot", help="Also save <output>.png: features vs voltage.")
        ] = False,
        energy: EnergyOpt = None,
        mu: MuOpt = None,
        group: GroupOpt = None,
        duplicates: DuplicatesOpt = "error",
        sort: SortOpt = False,
        grid: GridOpt = None,
        std_energy: StdEnergyOpt = None,
        std_mu: StdMuOpt = None,
        std_group: StdGroupOpt = None,
        invert_current: InvertOpt = False,
        repair: RepairOpt = None,
        columns: ColumnsOpt = None,
        first: FirstOpt = "auto",
    ) -> None:
        """Per-spectrum table: cycler state (V, mAh, SOC, x_Li) beside edge energy,
        features and LCF weights."""
        import speciate.io as sio
        from speciate.echem import segment
        from speciate.operando import operando_table, plot_operando

        window = parse_span(edge_window, "--edge-window", "eV", "8330:8360")
        figure = output.with_suffix(".png")
        sources = parse_sources(spectra)
        std_sources = parse_sources(standards or [])
        check_outputs(
            [("--output", output), ("--plot", figure if plot else None)],
            [*input_files(sources, std_sources), *cycler],
        )
        check_first(first)
        options = {"duplicates": duplicates, "sort": sort}
        series = sio.read_many(
            sources, grid=grid, energy=energy, mu=mu, group=parse_group(group), **options
        )
        cycling = read_cycling(cycler, invert_current, repair, columns)
        stds = None
        if standards:
            stds = read_standards(
                standards, False, group=parse_group(std_group), **options,
                energy=energy if std_energy is None else std_energy,
                mu=mu if std_mu is None else std_mu,
            )  # fmt: skip
        result = operando_table(
            series, cycling, offset=offset, duration=duration, edge_window=window,
            features=features, standards=stds, lcf_options={"e_range": parse_e_range(e_range)},
            segmentation=segment(cycling, first=first), mass_mg=mass, formula=formula,
            x_li_initial=x_li_initial,
        )  # fmt: skip
        fig = plot_operando(result) if plot else None  # before writing: all outputs or none
        result.to_csv(output)
        frame = result.to_dataframe()
        console.print(_preview(frame))
        outside = int((~result.state.inside).sum())
        if outside:
            err_console.print(
                f"[yellow]warning:[/] {outside} of {result.n_spectra} spectra fall outside the "
                "cycling record (voltage NaN, inside_record False); check --offset",
                highlight=False,
            )
        console.print(f"wrote {result.n_spectra} rows to {output}", highlight=False)
        if fig is not None:
            save_figure(fig, figure)
            console.print(f"wrote figure {figure}", highlight=False)

