"""Shared pieces of the CLI: consoles, option parsing, output checks."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from speciate.errors import SpeciateError, ValidationError

__all__ = [
    "check_outputs",
    "cli_terms",
    "console",
    "err_console",
    "input_files",
    "parse_float_list",
    "parse_group",
    "parse_sources",
    "parse_span",
    "save_figure",
]

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


def parse_span(
    text: str | None, option: str, unit: str, example: str
) -> tuple[float, float] | None:
    """``"3.0:4.3"`` -> (3.0, 4.3): a LOW:HIGH range given to ``option``."""
    if text is None:
        return None
    values = parse_float_list(text.replace(":", ","), option)
    if len(values) != 2 or not values[0] < values[1]:
        raise ValidationError(
            f"{option} expects LOW:HIGH in {unit} such as '{example}'; got {text!r}"
        )
    return values[0], values[1]


def parse_group(text: str | list[str] | None) -> str | int | list[str | int] | None:
    """``"3"`` -> 3 (an index); other text is a group label; several --group give a list."""
    if text is None:
        return None
    if isinstance(text, list):
        if not text:
            return None
        picked = [parse_group(t) for t in text]
        return picked[0] if len(picked) == 1 else picked  # type: ignore[return-value]
    stripped = text.strip()
    return int(stripped) if stripped.lstrip("-").isdigit() else text


def _split_source(text: str) -> tuple[str, list[str | int] | None]:
    """``"Mn.prj:MnO,Mn2O3"`` -> ("Mn.prj", ["MnO", "Mn2O3"]); an existing path is kept whole."""
    if ":" not in text or Path(text).exists():
        return text, None
    path, _, groups = text.rpartition(":")
    if not path or (len(path) == 1 and path.isalpha()):  # ":x" or a drive letter "C:"
        return text, None
    picked = [parse_group(g.strip()) for g in groups.split(",") if g.strip()]
    if not picked:
        raise ValidationError(f"{text!r} ends in ':' with no group; write FILE:GROUP[,GROUP...]")
    return path, picked  # type: ignore[return-value]


def parse_sources(items: Iterable[str]) -> list[Any]:
    """Command-line inputs as `speciate.io.read_many` items: ``FILE:GROUP1,GROUP2`` becomes
    a ``(FILE, [GROUP1, GROUP2])`` pair (groups: labels or 0-based indices)."""
    out: list[Any] = []
    for item in items:
        path, groups = _split_source(item)
        out.append(path if groups is None else (path, groups))
    return out


def input_files(*item_lists: Iterable[Any]) -> list[Path]:
    """Every existing file named by the inputs (used to refuse writing over one)."""
    import speciate.io as sio

    files: list[Path] = []
    for items in item_lists:
        for item in items:
            path = item[0] if isinstance(item, tuple) else item
            try:
                files.extend(sio.expand_paths(path))
            except SpeciateError:
                continue  # reported by the reader with its own message
    return files


def check_outputs(
    outputs: Iterable[tuple[str, Path | None]], inputs: Iterable[os.PathLike | str] = ()
) -> None:
    """Refuse, before any work, an output that is not a regular file or is an input.

    ``outputs`` pairs the option (``"--output"``) with the path it writes. Raises a usage
    error (exit code 2) naming the option.
    """
    from speciate._atomic import check_output_path

    inputs = list(inputs)
    for option, path in outputs:
        if path is None:
            continue
        try:
            check_output_path(path, inputs)
        except ValidationError as exc:
            raise typer.BadParameter(str(exc), param_hint=f"'{option}'") from exc


# Library keywords that the command line spells as flags (``mass_mg=`` is ``--mass``).
_FLAGS = {
    "energy": "--energy",
    "mu": "--mu",
    "reference": "--reference",
    "group": "--group",
    "duplicates": "--duplicates",
    "grid": "--grid",
    "sort": "--sort",
    "outside": "--outside",
    "offset": "--offset",
    "duration": "--duration",
    "mass_mg": "--mass",
    "repair": "--repair",
    "columns": "--columns",
    "invert_current": "--invert-current",
    "formula": "--formula",
}
_KEYWORD = re.compile(r"\b(" + "|".join(_FLAGS) + r")=(?:\[?'([^']*)'\]?|(\w+)|(?=[\s(),;]|$))")


def cli_terms(message: str) -> str:
    """A library message with ``duplicates='mean'`` spelled as ``--duplicates mean``."""

    def flag(match: re.Match[str]) -> str:
        value = match.group(2) if match.group(2) is not None else match.group(3)
        name = _FLAGS[match.group(1)]
        if value in (None, "True"):
            return name
        return f"{name} {value}"

    message = _KEYWORD.sub(flag, message)
    return re.sub(r"\bpass mass_mg\b", "pass --mass", message)


def save_figure(fig: Any, path: Path, dpi: int = 130) -> None:
    """Save ``fig`` atomically, the bounding box grown so no label or title is clipped."""
    from speciate._atomic import atomic_path

    fmt = path.suffix.lstrip(".") or "png"
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=fmt, dpi=dpi, bbox_inches="tight", pad_inches=0.08)
