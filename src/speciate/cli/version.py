"""`speciate version`."""

from __future__ import annotations

import typer

from speciate.cli._common import console
from speciate.provenance import versions


def register(app: typer.Typer) -> None:
    """Add the ``version`` command."""

    @app.command()
    def version() -> None:
        """Print the versions of speciate and its main dependencies."""
        for name, ver in versions("xarray", "pandas").items():
            console.print(f"{name} {ver}")
