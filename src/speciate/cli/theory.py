"""`speciate theory`: XANES of phases × cluster radii with FEFF10 or FDMNES, to NetCDF."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from speciate.cli._common import check_outputs, console, err_console, parse_float_list
from speciate.errors import ValidationError


def register(app: typer.Typer) -> None:
    """Add the ``theory`` command."""

    @app.command()
    def theory(
        phase: Annotated[
            list[str],
            typer.Option("--phase", "-p", help="Bundled phase name or CIF path (repeatable)."),
        ],
        radii: Annotated[
            str, typer.Option("--radii", "-r", help="Cluster radii in Å, e.g. 2,3,3.5,4.6,5")
        ],
        output: Annotated[Path, typer.Option("--output", "-o", help="NetCDF file to write.")],
        engine: Annotated[str, typer.Option(help="feff or fdmnes.")] = "feff",
        scf: Annotated[
            float | None, typer.Option(help="FEFF: SCF radius in Å (default: no SCF).")
        ] = None,
        potential: Annotated[
            str, typer.Option(help="FEFF potential mode: shared or per_radius.")
        ] = "shared",
        pot_radius: Annotated[
            float | None, typer.Option(help="FEFF shared mode: ATOMS radius of the potential (Å).")
        ] = None,
        absorber: Annotated[str, typer.Option(help="Absorbing element.")] = "Mn",
        site: Annotated[str | None, typer.Option(help="Only this absorber site.")] = None,
        workers: Annotated[int | None, typer.Option(help="Local parallel jobs.")] = None,
        client: Annotated[
            str | None, typer.Option(help="Dask distributed scheduler address.")
        ] = None,
        cache_dir: Annotated[
            Path | None,
            typer.Option(
                help="Cache directory (default $SPECIATE_CACHE, else the user cache dir)."
            ),
        ] = None,
        timeout: Annotated[float, typer.Option(help="Time limit per engine run, s.")] = 3600.0,
        progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
    ) -> None:
        """Compute theory XANES standards for every phase and radius (cached, resumable)."""
        from speciate.theory import sweep

        check_outputs([("--output", output)], [p for p in phase if Path(p).exists()])
        if engine == "feff":
            options: dict = {"potential": potential}
            if scf is not None:
                options["scf"] = scf
            if pot_radius is not None:
                options["pot_radius"] = pot_radius
        elif engine == "fdmnes":
            if pot_radius is not None or potential != "shared":
                raise ValidationError("--potential and --pot-radius apply to --engine feff only")
            options = {"scf": scf is not None}
        else:
            raise ValidationError(f"--engine must be 'feff' or 'fdmnes'; got {engine!r}")
        result = sweep(
            phase,
            parse_float_list(radii, "--radii"),
            engine=engine,
            options=options,
            absorber=absorber,
            site=site,
            client=client,
            n_workers=workers,
            cache_dir=cache_dir,
            timeout=timeout,
            progress=progress,
        )
        table = Table(title=f"{engine} sweep", show_lines=False)
        for col in ("phase", "site", "R (Å)", "E_F (eV)", "points", "cached", "run s"):
            table.add_column(col)
        for run in result.spectra:
            table.add_row(
                run.phase,
                run.site,
                f"{run.radius:g}",
                f"{run.spectrum.e_fermi:.2f}",
                str(run.spectrum.energy.size),
                "yes" if run.cached else "no",
                f"{run.duration_s:.1f}",
            )
        console.print(table)
        for f in result.failures:
            err_console.print(
                f"[red]failed[/] {f.phase} site {f.site} R={f.radius:g}: {f.error}", highlight=False
            )
            if f.log_tail:
                err_console.print(f.log_tail, highlight=False, markup=False)
        if result.series is None:
            raise ValidationError("no spectrum was computed; nothing written")
        result.to_netcdf(output)
        console.print(
            f"wrote {result.series.n_spectra} spectra to {output} "
            f"({result.stats['computed']} computed, {result.stats['cached']} from cache, "
            f"{len(result.failures)} failed, {result.stats['wall_s']:.1f} s)"
        )
        if result.failures:
            raise typer.Exit(code=1)
