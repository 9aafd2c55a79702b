"""The `speciate` command line: thin commands that call the public library API.

Each module in this package (not starting with ``_``) defines ``register(app)`` and
adds its command(s); they are discovered here, so commands live beside nothing else.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
import warnings

import typer
from rich.markup import escape

from speciate.cli._common import cli_terms, err_console
from speciate.errors import SpeciateError

__all__ = ["app", "main"]

app = typer.Typer(
    name="speciate",
    help="Battery-materials spectroscopy: XANES, speciation, theory, features, echem, EELS.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root() -> None:
    """Battery-materials spectroscopy: XANES, speciation, theory, features, echem, EELS."""


def _register_commands() -> None:
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        module.register(app)


_register_commands()


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    text = escape(cli_terms(str(message)))
    err_console.print(f"[yellow]warning:[/] {text}", highlight=False)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``speciate`` console script.

    Errors raised on purpose (`SpeciateError`) are printed as one clear message with
    exit code 1, not as a traceback, with library keywords spelled as flags
    (``duplicates='mean'`` -> ``--duplicates mean``). Usage errors (a bad option, an
    output path that cannot be written) exit with code 2.
    """
    try:
        with warnings.catch_warnings():
            # library warnings (a trimmed grid, an interpolated reference) as one line each
            warnings.showwarning = _show_warning
            app(args=argv, standalone_mode=False)
    except SpeciateError as exc:
        message = escape(cli_terms(str(exc)))
        err_console.print(f"[bold red]error:[/] {message}", highlight=False)
        return 1
    except typer.Exit as exc:
        return int(exc.exit_code or 0)
    except typer.Abort:
        err_console.print("aborted")
        return 1
    except typer.TyperException as exc:
        # usage errors (unknown option, missing argument) format themselves
        show = getattr(exc, "show", None)
        if show is None:
            raise
        show()
        return int(getattr(exc, "exit_code", 2))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())


def run() -> None:
    """Console-script wrapper: exit with `main`'s return code."""
    sys.exit(main())
