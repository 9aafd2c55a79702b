"""`speciate demo`: the bundled study (real operando data, theory over radius, known truth)."""

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
        recompute: Annotated[
            bool,
            typer.Option(
                "--recompute",
                help="Rerun FEFF10 through the sweep instead of "
                "using the bundled spectra (minutes to hours).",
            ),
        ] = False,
        n_spectra: Annotated[
            int, typer.Option(help="Spectra in the synthetic spinel domain growth series.")
        ] = 20,
        seed: Annotated[int, typer.Option(help="Random seed of the synthetic series.")] = 0,
    ) -> None:
        """Run the bundled study: real Ni K operando charge with its EC-Lab record, real Mn
        standards, FEFF10 spectra over cluster radius, a synthetic spinel domain growth
        series with known truth and a synthetic EELS map. Writes study.toml beside the
        report so it can be copied and edited."""
        import json

        from speciate.cli.run import run_with_progress
        from speciate.study import load_study
        from speciate.study.demo import write_demo_study

        doing = "copying the bundled data and building the synthetic series"
        if recompute:
            doing += " (FEFF10 sweep: 24 runs, tens of minutes on a laptop unless cached)"
        with console.status(doing):
            path = write_demo_study(out, recompute=recompute, n_spectra=n_spectra, seed=seed)
        result = run_with_progress(load_study(path), force=("theory",) if recompute else ())
        metrics = result.values.get("report", {}).get("metrics", {})
        console.print(json.dumps(metrics, indent=1, default=str), highlight=False)
        console.print(f"study file: {path} (edit it and `speciate run {path}`)")
        raise typer.Exit(1 if result.failed else 0)
