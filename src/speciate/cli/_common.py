"""Shared pieces of the CLI: consoles, option parsing helpers."""

from __future__ import annotations

from rich.console import Console

from speciate.errors import ValidationError

__all__ = ["console", "err_console", "parse_float_list"]

console = Console()
err_console = Console(stderr=True)


def parse_float_list(text: str, name: str) -> list[float]:
    """Parse ``"2,3,3.5"`` into floats, with an error naming the option."""
    try:
        return [float(x) for x in text.split(",") if x.strip()]
    except ValueError as exc:
        raise ValidationError(
            f"{name} expects comma-separated numbers such as '2,3,3.5'; got {text!r}"
        ) from exc
