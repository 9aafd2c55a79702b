"""`speciate run` (a whole study from its TOML file) and `speciate init` (a template)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from speciate.cli._common import console, err_console

if TYPE_CHECKING:
    from speciate.study import Study, StudyResult


def register(app: typer.Typer) -> None:
    """Add the ``run`` and ``init`` commands."""

    @app.command("run")
    def run_cmd(
        study: Annotated[Path, typer.Argument(help="The study file (TOML).")],
        check: Annotated[
            bool, typer.Option("--check", help="Validate the study file and stop.")
        ] = False,
        force: Annotated[
            list[str] | None,
            typer.Option("--force", help="Recompute this stage kind even if cached (repeatable)."),
        ] = None,
    ) -> None:
        """Run every stage of a study: results/, figures/, report.html, provenance.json."""
        from speciate.study import load_study

        parsed = load_study(study)
        if check:
            console.print(
                f"{study}: valid — {len(parsed.spectra)} series, {len(parsed.standards)} "
                f"standard(s), {len(parsed.fits)} fit(s), theory: "
                f"{'yes' if parsed.theory else 'no'}, echem: {'yes' if parsed.echem else 'no'}, "
                f"eels: {'yes' if parsed.eels else 'no'}; output {parsed.output}"
            )
            return
        result = run_with_progress(parsed, force=tuple(force or ()))
        raise typer.Exit(1 if result.failed else 0)

    @app.command("init")
    def init_cmd(
        path: Annotated[Path, typer.Argument(help="Where to write the template.")] = Path(
            "study.toml"
        ),
        title: Annotated[str, typer.Option(help="Report title.")] = "My operando study",
        overwrite: Annotated[bool, typer.Option(help="Replace an existing file.")] = False,
    ) -> None:
        """Write a commented study template to edit."""
        from speciate._atomic import atomic_write_text
        from speciate.errors import ValidationError
        from speciate.study import template

        if path.exists() and not overwrite:
            raise ValidationError(f"{path} exists; pass --overwrite to replace it")
        atomic_write_text(path, template(title))
        console.print(
            f"wrote {path}: edit it, check with `speciate run --check {path}`, "
            f"then `speciate run {path}`"
        )


def run_with_progress(study: Study, force: tuple[str, ...] = ()) -> StudyResult:
    """Run a parsed study with a Rich progress bar; print a summary and any failures."""
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from speciate.study import run_study

    n_stages = 0
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    ) as progress:
        task = progress.add_task("starting", total=None)

        def say(name: str, event: str) -> None:
            nonlocal n_stages
            if event == "start":
                progress.update(task, description=f"{name}")
            else:
                n_stages += 1
                progress.update(task, completed=n_stages)
                colour = {"failed": "red", "skipped": "yellow", "cached": "dim"}.get(event, "green")
                progress.console.print(f"[{colour}]{event:>7}[/] {name}", highlight=False)

        result = run_study(study, force=force, progress=say)
    for rec in result.failed:
        err_console.print(f"[bold red]stage {rec.name} failed:[/] {rec.error}", highlight=False)
    console.print(
        f"{len(result.ran)} stage(s) ran, "
        f"{sum(r.status == 'cached' for r in result.records)} from cache, "
        f"{len(result.failed)} failed; report: {study.output / 'report.html'}"
    )
    return result
