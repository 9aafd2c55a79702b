"""`speciate eels`: spectrum image -> background -> MLLS -> valence maps (NetCDF) and a figure."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import numpy as np
import typer

from speciate.cli._common import check_outputs, console, parse_float_list
from speciate.errors import ValidationError


def _pair(text: str, name: str) -> tuple[float, float]:
    values = parse_float_list(text, name)
    if len(values) != 2:
        raise ValidationError(f"{name} expects two numbers 'e_min,e_max' in eV; got {text!r}")
    return values[0], values[1]


def register(app: typer.Typer) -> None:
    """Add the ``eels`` command."""

    @app.command()
    def eels(
        spectrum_image: Annotated[Path, typer.Argument(help="DM3/DM4/.hspy/.msa spectrum image")],
        refs: Annotated[
            list[Path], typer.Option("--refs", help="reference spectrum file (repeat per ref)")
        ],
        output: Annotated[Path, typer.Option("-o", "--output", help="maps file (.nc)")] = Path(
            "maps.nc"
        ),
        valences: Annotated[
            str | None, typer.Option(help="valence of each reference, e.g. '2,4'")
        ] = None,
        window: Annotated[str, typer.Option(help="MLLS window 'e_min,e_max' (eV)")] = "635,665",
        background_window: Annotated[
            str, typer.Option(help="pre-edge window 'e_min,e_max' (eV)")
        ] = "600,634",
        background: Annotated[str, typer.Option(help="power_law or exponential")] = "power_law",
        joint_background: Annotated[
            bool, typer.Option(help="refit the background amplitude with the references")
        ] = False,
        derivatives: Annotated[bool, typer.Option(help="add reference derivatives")] = False,
        lazy: Annotated[bool, typer.Option(help="process chunk-wise with Dask")] = False,
        threshold: Annotated[
            float | None,
            typer.Option(
                help="valence splitting 'reduced' and 'oxidised' regions (default: "
                "midway between the references)"
            ),
        ] = None,
        min_signal: Annotated[
            float,
            typer.Option(
                help="regions keep pixels whose total reference weight exceeds this "
                "fraction of the 99th percentile (leaves out vacuum and support)"
            ),
        ] = 0.2,
        plot: Annotated[bool, typer.Option("--plot", help="write a PNG beside the maps")] = False,
    ) -> None:
        """Map the Mn valence of a spectrum image by MLLS against reference spectra."""
        from speciate._atomic import atomic_path
        from speciate.eels import (
            mlls,
            read,
            region_spectra,
            region_statistics,
            subtract_background,
            threshold_mask,
        )

        png = output.with_suffix(".png")
        check_outputs(
            [("--output", output), ("--plot", png if plot else None)], [spectrum_image, *refs]
        )
        si = read(spectrum_image, lazy=lazy)
        vals = None if valences is None else parse_float_list(valences, "--valences")
        result = mlls(
            si,
            [str(p) for p in refs],
            _pair(window, "--window"),
            derivatives,
            valences=vals,
            background=background,  # type: ignore[arg-type]
            background_window=_pair(background_window, "--background-window"),
            joint_background=joint_background,
        )
        with atomic_path(output) as tmp:
            result.to_xarray().to_netcdf(tmp, engine="h5netcdf")
        console.print(result.report(), highlight=False)
        console.print(f"maps written to {output}", highlight=False)
        if result.valence is None:
            return
        cut = threshold
        if cut is None:
            cut = 0.5 * (min(result.valences) + max(result.valences))
        total = result.coefficients.sum(axis=-1)
        has_mn = threshold_mask(total, above=min_signal * float(np.nanpercentile(total, 99)))
        masks = {
            "reduced": has_mn & threshold_mask(result.valence, below=cut),
            "oxidised": has_mn & threshold_mask(result.valence, above=cut),
        }
        masks = {k: m for k, m in masks.items() if m.any()}
        console.print(region_statistics(result.valence, masks).report("valence"), highlight=False)
        if plot:
            from speciate.eels.plots import valence_figure

            spectra = region_spectra(subtract_background(si, result.background), masks)
            valence_figure(
                result,
                spectra,
                png,
                pixel_size=si.pixel_size[1],
                pixel_units=si.pixel_units,
                min_signal=min_signal,
            )
            console.print(f"figure written to {png}", highlight=False)
