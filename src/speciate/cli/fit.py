"""`speciate fit DATA... --standards STD... [--shifts] [--combinations N] -o out.csv|.nc
[--plot]`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

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
    SortOpt,
    StdEnergyOpt,
    StdGroupOpt,
    StdMuOpt,
)
from speciate.errors import ReadError, ValidationError

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

    from speciate.fit import LCFResult

_SHOWN_ROWS = 12
_OUTPUTS = (".csv", ".nc")


def _normalized(series: Any, already: bool) -> Any:
    """A normalized series as it is; raw spectra normalized with the defaults."""
    from speciate.xanes import normalize

    if already or "normalization" in series.meta:
        return series
    return normalize(series)


def read_standards(
    items: list[str], already: bool, group: Any = None, **options: Any
) -> list[Any]:
    """Every spectrum of every --standards item (file, folder or glob), each normalized on
    its own grid: all groups of a project file, or those of ``FILE:GROUP1,GROUP2``, or
    ``group`` (label, index or list) in files that hold several groups."""
    import speciate.io as sio
    from speciate.io.registry import select_group

    options = {key: val for key, val in options.items() if key != "group"}
    chosen = None if group is None else (group if isinstance(group, list) else [group])
    out = []
    for item in parse_sources(items):
        pattern, own = item if isinstance(item, tuple) else (item, None)
        for path in sio.expand_paths(pattern):
            groups = sio.read_groups(path, **options)
            picked = own if own is not None else (chosen if len(groups) > 1 else None)
            if picked is not None:
                labels = [s.labels[0] for s in groups]
                groups = [groups[select_group(labels, g, path)] for g in picked]
            out.extend(_normalized(spectrum, already) for spectrum in groups)
    return out


def plot_paths(output: Path) -> list[Path]:
    """The figures ``--plot`` writes beside ``output``."""
    return [output.with_name(output.stem + suffix + ".png") for suffix in ("_fits", "_weights")]


def parse_e_range(text: str) -> tuple[float, float]:
    """``"-20,60"`` -> (-20.0, 60.0)."""
    values = parse_float_list(text, "--e-range")
    if len(values) != 2:
        raise ValidationError(f"--e-range expects 'start,end' in eV; got {text!r}")
    return values[0], values[1]


def weights_table(result: LCFResult, subsets: list[str] | None = None) -> Table:
    """Weights ± stderr and R-factor of the first spectra, for the terminal."""
    names = list(result.standards)
    table = Table("label", *names, "R-factor", *(["subset"] if subsets else []))
    for i in range(min(result.n_spectra, _SHOWN_ROWS)):
        cells = [
            "–" if result.weights[i, j] == 0 and result.stderr[i, j] == 0
            else f"{result.weights[i, j]:.3f}±{result.stderr[i, j]:.3f}"
            for j in range(len(names))
        ]  # fmt: skip
        extra = [subsets[i]] if subsets else []
        table.add_row(result.labels[i], *cells, f"{result.r_factor[i]:.3g}", *extra)
    if result.n_spectra > _SHOWN_ROWS:
        table.add_row(f"... {result.n_spectra - _SHOWN_ROWS} more")
    return table


def save_plots(result: LCFResult, output: Path) -> list[Path]:
    """Save `fit_figures` as <output>_fits.png and <output>_weights.png."""
    paths = plot_paths(output)
    for path, fig in zip(paths, fit_figures(result)):
        save_figure(fig, path, dpi=110)
    return paths


def fit_figures(result: LCFResult) -> tuple[Figure, Figure]:
    """Data, fit, components and residual of up to 6 spectra, the worst fit among them;
    weights against time or spectrum index. Both titled with the worst fit."""
    import numpy as np

    from speciate.fit.plots import plot_fits, plot_weights

    n = result.n_spectra
    worst = int(np.nanargmax(result.r_factor))
    spread = np.linspace(0, n - 1, min(5, n)).round().astype(int)
    shown = sorted({*spread.tolist(), worst})
    worst_text = f"worst fit: {result.labels[worst]}, R = {result.r_factor[worst]:.2g}"
    fits = plot_fits(result, indices=shown)
    for ax in fits.axes:
        if ax.get_title() == f"{result.labels[worst]}   R = {result.r_factor[worst]:.3g}":
            ax.set_title(worst_text, fontsize=9, color="tab:red")
    # above the panels' own titles; save_figure's tight box takes it in
    fits.suptitle(
        f"LCF of {n} spectra against {len(result.standards)} standards "
        f"({len(shown)} shown); {worst_text}",
        fontsize="medium",
        y=1.0,
        va="bottom",
    )
    weights = plot_weights(result)
    weights.axes[0].set_title(
        f"LCF weights ±1σ of {n} spectra; {worst_text}", fontsize="medium", loc="left"
    )
    return fits, weights


def register(app: typer.Typer) -> None:
    """Add the ``fit`` command."""

    @app.command()
    def fit(
        data: Annotated[
            list[str],
            typer.Argument(
                help="Files, folders or glob patterns; FILE:GROUP picks project groups."
            ),
        ],
        standards: Annotated[
            list[str],
            typer.Option(
                "--standards",
                "-s",
                help="Standard file, folder or glob; repeat for more (each on its own grid). "
                "FILE:GROUP1,GROUP2 picks groups of a project file.",
            ),
        ],
        output: Annotated[
            Path, typer.Option("--output", "-o", help="Results per spectrum: .csv or .nc.")
        ],
        shifts: Annotated[
            bool, typer.Option("--shifts", help="Fit one energy shift per standard and spectrum.")
        ] = False,
        combinations: Annotated[
            int,
            typer.Option(
                "--combinations",
                help="Try every subset of up to N standards; keep the smallest adequate one.",
            ),
        ] = 0,
        alpha: Annotated[
            float, typer.Option("--alpha", help="Significance level of the subset F-test.")
        ] = 0.05,
        e_range: Annotated[
            str, typer.Option("--e-range", help="Fit window 'start,end' in eV relative to E0.")
        ] = "-20,60",
        absolute: Annotated[
            bool, typer.Option("--absolute", help="--e-range is in absolute eV, not from E0.")
        ] = False,
        e0: Annotated[
            float | None, typer.Option("--e0", help="Reference E0 of the window (eV).")
        ] = None,
        max_shift: Annotated[
            float, typer.Option("--max-shift", help="Largest fitted shift (eV).")
        ] = 3.0,
        no_sum: Annotated[
            bool, typer.Option("--no-sum-to-one", help="Do not force weights to sum to 1.")
        ] = False,
        normalized: Annotated[
            bool, typer.Option("--normalized", help="Data and standards are already normalized.")
        ] = False,
        background: Annotated[
            str | None,
            typer.Option(
                "--background",
                help="Fit scale x mixture + a polynomial per spectrum: constant, linear or "
                "quadratic, or 'scale' for the scale alone (normalization errors then "
                "cannot leak into the weights).",
            ),
        ] = None,
        raw: Annotated[
            bool,
            typer.Option("--raw", help="Fit the data's raw mu (needs --background)."),
        ] = False,
        plot: Annotated[
            bool,
            typer.Option("--plot", help="Also save <output>_fits.png and <output>_weights.png."),
        ] = False,
        grid: GridOpt = None,
        energy: EnergyOpt = None,
        mu: MuOpt = None,
        group: GroupOpt = None,
        duplicates: DuplicatesOpt = "error",
        sort: SortOpt = False,
        std_energy: StdEnergyOpt = None,
        std_mu: StdMuOpt = None,
        std_group: StdGroupOpt = None,
    ) -> None:
        """Linear-combination fit of every spectrum against standards, all at once."""
        import speciate.io as sio
        from speciate import fit as sfit

        if output.suffix not in _OUTPUTS:
            raise ValidationError(f"--output must end in .csv or .nc; got {output.name!r}")
        if raw and background is None:
            raise ValidationError("--raw fits raw mu with a fitted background; add --background")
        if combinations < 0:
            raise ValidationError(f"--combinations must be >= 1 (0: off); got {combinations}")
        ranked = output.with_name(output.stem + "_ranked.csv")
        sources = parse_sources(data)
        check_outputs(
            [("--output", output), ("--combinations", ranked if combinations else None),
             *(("--plot", p) for p in (plot_paths(output) if plot else []))],
            input_files(sources, parse_sources(standards)),
        )  # fmt: skip
        options = {"mu": mu, "duplicates": duplicates, "sort": sort}
        series = _normalized(
            sio.read_many(sources, grid=grid, energy=energy, group=parse_group(group), **options),
            normalized,
        )
        options.update(
            energy=energy if std_energy is None else std_energy,
            mu=mu if std_mu is None else std_mu,
        )
        try:
            stds = read_standards(standards, normalized, group=parse_group(std_group), **options)
        except ReadError as exc:
            raise ReadError(
                f"{exc.message} (a standard: its columns are --std-energy/--std-mu, "
                "default --energy/--mu)",
                exc.path,
                exc.line,
            ) from exc
        common = {
            "e_range": parse_e_range(e_range),
            "relative_to": "absolute" if absolute else "e0",
            "e0": e0,
            "sum_to_one": not no_sum,
            "bounds": (0.0, 1.0) if not no_sum else (0.0, None),
            "max_shift": max_shift,
        }
        if background is not None:
            common.update(background=background, array="mu" if raw else "norm")
        subsets = None
        if combinations:
            combo = sfit.combinations(
                series, stds, max_components=combinations, shifts=shifts or None,
                alpha=alpha, **common,
            )  # fmt: skip
            result = combo.refit(series, stds)
            subsets = combo.summary()["subset"].tolist()
            table = result.to_dataframe()
            table.insert(1, "subset", subsets)
            combo.to_csv(ranked)
        else:
            result = sfit.lcf(series, stds, shifts=True if shifts else None, **common)
            table = result.to_dataframe()
        if output.suffix == ".nc":
            result.to_netcdf(output)
        else:
            from speciate._atomic import atomic_write_text

            atomic_write_text(output, table.to_csv(index=False))
        console.print(weights_table(result, subsets))
        console.print(
            f"wrote {result.n_spectra} fits of {len(result.standards)} standards to {output}",
            highlight=False,
        )
        if combinations:
            console.print(f"wrote every subset's fit to {ranked}", highlight=False)
        if plot:
            for path in save_plots(result, output):
                console.print(f"wrote figure {path}", highlight=False)
