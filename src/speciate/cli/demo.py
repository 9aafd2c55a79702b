"""`speciate demo`: the main job on bundled data."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from speciate.cli._common import console


def register(app: typer.Typer) -> None:
    """Add the ``demo`` command."""

    @app.command()
    def demo(
        out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = Path(
            "demo-output"
        ),
        n_spectra: Annotated[int, typer.Option(help="Spectra in the synthetic series.")] = 60,
        seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    ) -> None:
        """Run the main pipeline on bundled real Mn standards and a synthetic operando series."""
        from speciate.demo import run_demo

        with console.status("starting") as status:
            result = run_demo(
                out, n_spectra=n_spectra, seed=seed, progress=lambda m: status.update(m)
            )
        for name, value in result.metrics.items():
            console.print(f"{name}: {value:.4g}")
        console.print(f"wrote {len(result.files)} files to {result.out_dir}/ (open report.html)")
