"""`speciate echem`: capacity per cycle of a cycler record, with optional figures."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from speciate.cli._common import check_outputs, console, err_console, parse_span, save_figure
from speciate.errors import ValidationError

_REPAIRS = ("drop_incomplete_rows", "sort_time")
_FIRST = ("auto", "charge", "discharge")

RepairOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--repair",
        help="Allow an explicit repair, listed in the output: drop_incomplete_rows "
        "(a truncated last line) or sort_time (rows out of time order); repeat for both.",
    ),
]
ColumnsOpt = Annotated[
    str | None,
    typer.Option(
        "--columns",
        help="Column map for files speciate cannot map alone, e.g. "
        "'time_s=time/s,voltage_v=Ewe/V,current_ma=I/A*1000' (NAME*SCALE converts to s, V, "
        "mA, mAh).",
    ),
]
FirstOpt = Annotated[
    str,
    typer.Option(
        "--first",
        help="Half-cycle that opens a cycle: auto (the record's first), charge or discharge.",
    ),
]
InvertOpt = Annotated[bool, typer.Option("--invert-current", help="Flip the file's current sign.")]


def parse_columns(text: str | None) -> dict[str, object] | None:
    """``"time_s=t,current_ma=I/A*1000"`` -> {"time_s": "t", "current_ma": {"name": "I/A",
    "scale": 1000.0}}."""
    if text is None:
        return None
    out: dict[str, object] = {}
    for part in text.split(","):
        key, sep, name = part.partition("=")
        if not sep or not key.strip() or not name.strip():
            raise ValidationError(
                f"--columns expects KEY=COLUMN pairs such as 'time_s=time/s,voltage_v=Ewe/V'; "
                f"got {part!r}"
            )
        column, star, scale = name.strip().rpartition("*")
        try:
            out[key.strip()] = {"name": column, "scale": float(scale)} if star else name.strip()
        except ValueError:
            out[key.strip()] = name.strip()  # a '*' inside the column name
    return out


def parse_repairs(items: list[str] | None) -> tuple[str, ...]:
    """``--repair`` values, validated (dashes accepted for underscores)."""
    fixes = tuple(x.strip().replace("-", "_") for x in items or [])
    bad = [x for x in fixes if x not in _REPAIRS]
    if bad:
        raise ValidationError(f"--repair takes {' or '.join(_REPAIRS)}; got {', '.join(bad)}")
    return fixes


def check_first(first: str) -> str:
    if first not in _FIRST:
        raise ValidationError(f"--first must be auto, charge or discharge; got {first!r}")
    return first


def read_cycling(files: list[Path], invert_current: bool, repair, columns):
    """The cell's record from one or several cycler files."""
    from speciate.echem import read

    return read(
        files if len(files) > 1 else files[0],
        invert_current=invert_current,
        repair=parse_repairs(repair),
        columns=parse_columns(columns),
    )


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


def _figure(cycling, summary, seg, mass, chosen, chosen_dqdv, volts):
    """`figure1` of the chosen cycles; cycles not in the record are a warning, not an error."""
    from speciate.echem.plots import figure1

    have = set(summary.cycle.tolist())
    for flag, asked in (("--cycles", chosen), ("--dqdv-cycles", chosen_dqdv)):
        missing = sorted(set(asked or []) - have)
        if missing:
            err_console.print(
                f"[yellow]warning:[/] {flag}: cycle(s) {missing} not in the record "
                f"(cycles {min(have)}..{max(have)}); left out of the figure",
                highlight=False,
            )
    kwargs = {}
    if chosen is not None:
        kwargs["cycles"] = chosen
    if chosen_dqdv is not None:
        kwargs["dqdv_cycles"] = chosen_dqdv
    return figure1(cycling, mass_mg=mass, segmentation=seg, voltage_range_v=volts, **kwargs)


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
        invert_current: InvertOpt = False,
        repair: RepairOpt = None,
        columns: ColumnsOpt = None,
        first: FirstOpt = "auto",
        voltage: Annotated[
            str | None,
            typer.Option("--voltage", help="Voltage range LOW:HIGH (V) of the dQ/dV and axes."),
        ] = None,
    ) -> None:
        """Capacity, efficiency, energy and mean voltages per cycle (integrated by speciate)."""
        from speciate._atomic import atomic_path
        from speciate.echem import capacity_per_cycle, segment

        chosen = _parse_cycles(cycles, "--cycles")
        chosen_dqdv = _parse_cycles(dqdv_cycles, "--dqdv-cycles")
        volts = parse_span(voltage, "--voltage", "V", "3.0:4.3")
        png = output.with_suffix(".png")
        check_outputs([("--output", output), ("--plot", png if plot else None)], files)
        cycling = read_cycling(files, invert_current, repair, columns)
        seg = segment(cycling, first=check_first(first))
        summary = capacity_per_cycle(cycling, mass_mg=mass, segmentation=seg)
        table = summary.to_dataframe()
        fig = None
        if plot:  # built before anything is written: a failure leaves no partial output
            fig = _figure(cycling, summary, seg, mass, chosen, chosen_dqdv, volts)
        with atomic_path(output) as tmp:
            table.to_csv(tmp, index=False, float_format="%.6g")
        console.print(
            f"{len(table)} cycle(s) from {cycling.n_rows} rows "
            f"({cycling.meta.get('vendor')}); summary written to {output}"
        )
        console.print(f"sign convention read: {cycling.meta.get('sign_convention')}")
        for fix in cycling.meta.get("repairs", []) or []:
            err_console.print(f"[yellow]repaired:[/] {fix}", highlight=False)
        console.print(_preview(table))
        if mass is None:
            err_console.print("no --mass given: capacities in mAh only (no mAh/g)")
        if fig is not None:
            save_figure(fig, png, dpi=150)
            console.print(f"figure written to {png}")
