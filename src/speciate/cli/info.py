"""`speciate info FILE`: what a file holds, as speciate reads it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from rich.table import Table

from speciate.cli._common import console, err_console
from speciate.errors import SpeciateError

# Reading options shared by the commands that read spectra.
EnergyOpt = Annotated[
    str | None, typer.Option("--energy", help="Energy column (eV), or e.g. 'energy*1000'.")
]
MuOpt = Annotated[
    str | None, typer.Option("--mu", help="mu column or expression, e.g. 'ln(i0/it)'.")
]
ReferenceOpt = Annotated[
    str | None,
    typer.Option("--reference", help="Reference-foil column or expression, e.g. 'ln(it/iref)'."),
]
GroupOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--group",
        help="Group label or 0-based index of project files; repeat for several. "
        "One file's own groups: FILE:GROUP1,GROUP2.",
    ),
]
DuplicatesOpt = Annotated[
    str, typer.Option("--duplicates", help="Repeated energies: error, mean or first.")
]
SortOpt = Annotated[bool, typer.Option("--sort", help="Sort rows with decreasing energies.")]
# The same for the standards, which often come from other files than the data.
StdEnergyOpt = Annotated[
    str | None,
    typer.Option("--std-energy", help="Energy column of the standards (default: as --energy)."),
]
StdMuOpt = Annotated[
    str | None,
    typer.Option("--std-mu", help="mu column or expression of the standards (default: as --mu)."),
]
StdGroupOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--std-group",
        help="Group(s) of the standards' project files; repeat for several "
        "(or -s FILE:GROUP1,GROUP2).",
    ),
]
GridOpt = Annotated[
    str | None,
    typer.Option("--grid", help="Different grids: interpolate onto 'first' or 'union'."),
]


def _e0_text(energy: np.ndarray, mu: np.ndarray) -> str:
    from speciate.xanes import find_e0

    try:
        e0 = find_e0(energy, mu)
    except SpeciateError:
        return "no edge"
    if e0.size == 1:
        return f"{e0[0]:.2f}"
    return f"{e0.min():.2f}..{e0.max():.2f}"


def register(app: typer.Typer) -> None:
    """Add the ``info`` command."""

    @app.command()
    def info(
        file: Annotated[Path, typer.Argument(help="A spectrum file (any supported format).")],
        energy: EnergyOpt = None,
        mu: MuOpt = None,
        reference: ReferenceOpt = None,
        duplicates: DuplicatesOpt = "error",
        sort: SortOpt = False,
    ) -> None:
        """Show a file's format, groups, columns, number of spectra, energy range and E0 guess."""
        import speciate.io as sio

        fmt = sio.detect_format(file)
        console.print(f"[bold]{file}[/]", highlight=False)
        console.print(f"format: {fmt.name} ({fmt.description})", highlight=False)
        try:
            groups = sio.read_groups(
                file, energy=energy, mu=mu, reference=reference, duplicates=duplicates, sort=sort
            )
        except sio.ColumnChoiceError as exc:
            console.print(f"columns: {', '.join(exc.columns)}", highlight=False)
            err_console.print(f"[yellow]note:[/] {exc.message}", highlight=False)
            return
        table = Table("#", "label", "n", "points", "energy (eV)", "E0 guess (eV)", "time")
        table.columns[4].no_wrap = True
        for i, s in enumerate(groups):
            time = "-" if s.time is None else str(s.time[0])[:16]
            table.add_row(
                str(i),
                s.labels[0] if s.n_spectra == 1 else f"{s.labels[0]}...",
                str(s.n_spectra),
                str(s.n_energy),
                f"{s.energy[0]:.2f}..{s.energy[-1]:.2f}",
                _e0_text(s.energy, s.mu),
                time,
            )
        first = groups[0].meta
        if "columns_found" in first and fmt.name != "netcdf":
            console.print(f"columns: {', '.join(first['columns_found'])}", highlight=False)
            used = ", ".join(f"{k}={v}" for k, v in first.get("expressions", {}).items())
            console.print(f"used: {used}", highlight=False)
        console.print(f"groups: {len(groups)}, spectra: {sum(s.n_spectra for s in groups)}")
        console.print(table)
