"""`speciate echem`: capacity per cycle of a cycler record, with optional figures."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from speciate.cli._common import console, err_console
from speciate.errors import ValidationError


def _parse_cycles(text: str | None, name: str) -> list[int] | None:
    if text is None:
        return None
    try:
        values = [int(x) for x in text.split(",") if x.strip()]
    except ValueError as exc:
        raise ValidationError(
            f"{name} expects comma-separated cycle numbers such as '1,2,50'; got {text!r}"
        ) from exc
    if not values:
        raise ValidationError(f"{name} is empty; give cycle numbers such as '1,2,50'")
    return values


def _preview(table, n_head: int = 5):
    """A Rich table of the first cycles and the last one."""
    from rich.table import Table

    specific = "specific_discharge_capacity_mah_g" in table
    cols = [
        ("cycle", "cycle", "{:.0f}"),
        (
            "specific_charge_capacity_mah_g" if specific else "charge_capacity_mah",
            "charge (mAh/g)" if specific else "charge (mAh)",
            "{:.4g}",
        ),
        (
            "specific_discharge_capacity_mah_g" if specific else "discharge_capacity_mah",
            "discharge (mAh/g)" if specific else "discharge (mAh)",
            "{:.4g}",
        ),
        ("coulombic_efficiency", "CE", "{:.4f}"),
        ("mean_discharge_voltage_v", "mean V dis. (V)", "{:.3f}"),
    ]
    out = Table(show_edge=False)
    for _, title, _ in cols:
        out.add_column(title, justify="right")
    rows = table.head(n_head)
    if len(table) > n_head:
        rows = table.iloc[[*range(n_head), len(table) - 1]]
    for _, row in rows.iterrows():
        out.add_row(*(fmt.format(row[name]) for name, _, fmt in cols))
    return out


def register(app: typer.Typer) -> None:
    """Add the ``echem`` command."""

    @app.command()
    def echem(
        files: Annotated[
            list[Path], typer.Argument(help="Cycler file(s) of one cell (joined in time order).")
        ],
        output: Annotated[
            Path, typer.Option("-o", "--output", help="Per-cycle summary CSV to write.")
        ] = Path("summary.csv"),
        mass: Annotated[
            float | None, typer.Option("--mass", help="Active mass (mg) for mAh/g.")
        ] = None,
        cycles: Annotated[
            str | None,
            typer.Option("--cycles", help="Cycles for the voltage curves, e.g. '1,2,50'."),
        ] = None,
        dqdv_cycles: Annotated[
            str | None, typer.Option("--dqdv-cycles", help="Cycles for dQ/dV, e.g. '1,450'.")
        ] = None,
        plot: Annotated[
            bool, typer.Option("--plot", help="Also write a figure beside the CSV (.png).")
        ] = False,
        invert_current: Annotated[
            bool, typer.Option("--invert-current", help="Flip the file's current sign.")
        ] = False,
    ) -> None:
        """Capacity, efficiency, energy and mean voltages per cycle (integrated by speciate)."""
        from speciate._atomic import atomic_path
        from speciate.echem import capacity_per_cycle, read

        chosen = _parse_cycles(cycles, "--cycles")
        chosen_dqdv = _parse_cycles(dqdv_cycles, "--dqdv-cycles")
        cycling = read(files if len(files) > 1 else files[0], invert_current=invert_current)
        summary = capacity_per_cycle(cycling, mass_mg=mass)
        table = summary.to_dataframe()
        with atomic_path(output) as tmp:
            table.to_csv(tmp, index=False, float_format="%.6g")
        console.print(
            f"{len(table)} cycle(s) from {cycling.n_rows} rows "
            f"({cycling.meta.get('vendor')}); summary written to {output}"
        )
        console.print(f"sign convention read: {cycling.meta.get('sign_convention')}")
        console.print(_preview(table))
        if mass is None:
            err_console.print("no --mass given: capacities in mAh only (no mAh/g)")
        if plot:
            from speciate.echem.plots import figure1

            kwargs = {}
            if chosen is not None:
                kwargs["cycles"] = chosen
            if chosen_dqdv is not None:
                kwargs["dqdv_cycles"] = chosen_dqdv
            fig = figure1(
                cycling,
                mass_mg=mass,
                strict=chosen is not None,
                strict_dqdv=chosen_dqdv is not None,
                **kwargs,
            )
            png = output.with_suffix(".png")
            with atomic_path(png) as tmp:
                fig.savefig(tmp, format="png", dpi=150)
            console.print(f"figure written to {png}")
