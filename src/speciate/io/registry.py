"""The reader registry: each file format says whether it can open a file and how to read it.

Formats are sniffed from the file's first bytes (content, not only the extension), in
order of decreasing ``priority``; the generic column reader comes last. Other parts of
speciate (and users) add formats with `register`.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from speciate.errors import ReadError, SpeciateError, ValidationError

if TYPE_CHECKING:  # pragma: no cover
    from speciate.series import Series

__all__ = [
    "HEAD_BYTES",
    "Format",
    "ReadOptions",
    "formats",
    "get_format",
    "guess_format",
    "register",
]

#: How many leading bytes of a file are passed to ``guess_can_open``.
HEAD_BYTES = 8192


@dataclass(frozen=True)
class ReadOptions:
    """What the caller asked for; every reader receives one.

    Attributes
    ----------
    energy, mu, reference
        Column name or expression of column names (``"ln(i0/itrans)"``), or None to use
        the format's own convention.
    duplicates
        Repeated energies: ``"error"``, ``"mean"`` or ``"first"``.
    sort
        Sort rows by energy when they are not increasing (recorded in meta); otherwise
        unsorted energies raise.
    group
        For multi-group formats: the group wanted (label or 0-based index), or None for
        all. Readers of such formats use `select_group`; column options then apply to
        that group only.
    """

    energy: str | None = None
    mu: str | None = None
    reference: str | None = None
    duplicates: str = "error"
    sort: bool = False
    group: str | int | None = None

    def __post_init__(self) -> None:
        if self.duplicates not in ("error", "mean", "first"):
            raise ValidationError(
                f"duplicates must be 'error', 'mean' or 'first'; got {self.duplicates!r}"
            )
        for name in ("energy", "mu", "reference"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                raise ValidationError(
                    f"{name}= expects a column name or expression (str); got {type(value).__name__}"
                )

    @property
    def has_columns(self) -> bool:
        """Whether any column choice was given."""
        return any(x is not None for x in (self.energy, self.mu, self.reference))


@dataclass(frozen=True)
class Format:
    """One file format known to `speciate.io.read`.

    Attributes
    ----------
    name
        Short unique name (``"xdi"``, ``"athena"``...), usable as ``read(..., format=name)``.
    description
        One line for humans (``speciate info``, docs).
    guess_can_open
        ``(path, head_bytes) -> bool``: whether the file looks like this format. Must not
        raise; ``head_bytes`` are the first `HEAD_BYTES` bytes.
    read_groups
        ``(path, options) -> list[Series]``: one Series per group in the file. Raises
        `speciate.ReadError` (or another `SpeciateError`) on bad input.
    extensions
        Usual file name endings, for documentation only.
    priority
        Sniffing order: higher first. Specific formats use 50-100; generic ones below.
    multi_group
        True if files may hold several groups and the reader honours
        ``ReadOptions.group`` (see `select_group`).
    """

    name: str
    description: str
    guess_can_open: Callable[[Path, bytes], bool]
    read_groups: Callable[[Path, ReadOptions], list[Series]] = field(repr=False)
    extensions: tuple[str, ...] = ()
    priority: int = 50
    multi_group: bool = False


_REGISTRY: dict[str, Format] = {}


def register(fmt: Format, *, replace: bool = False) -> Format:
    """Add a format to the registry (e.g. theory-engine output parsers).

    Raises
    ------
    ValidationError
        If a format of that name exists and ``replace`` is False.
    """
    if not isinstance(fmt, Format):
        raise ValidationError(f"register() expects a speciate.io.Format; got {type(fmt).__name__}")
    if fmt.name in _REGISTRY and not replace:
        raise ValidationError(
            f"a format named {fmt.name!r} is already registered; pass replace=True to override"
        )
    _REGISTRY[fmt.name] = fmt
    return fmt


def formats() -> tuple[Format, ...]:
    """Registered formats, in sniffing order (highest priority first)."""
    return tuple(sorted(_REGISTRY.values(), key=lambda f: (-f.priority, f.name)))


def get_format(name: str) -> Format:
    """The registered format called ``name``."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValidationError(
            f"unknown format {name!r}; registered formats: {[f.name for f in formats()]}"
        ) from None


def read_head(path: Path) -> bytes:
    """The first `HEAD_BYTES` bytes of ``path``, with errors as `ReadError`."""
    if not path.exists():
        raise ReadError("file not found", path)
    if path.is_dir():
        raise ReadError("expected a file; found a directory (use speciate.io.read_many)", path)
    try:
        with open(path, "rb") as fh:
            return fh.read(HEAD_BYTES)
    except OSError as exc:
        raise ReadError(f"cannot open file: {exc.strerror or exc}", path) from exc


def guess_format(path: Path, head: bytes) -> Format:
    """The first registered format whose ``guess_can_open`` accepts the file."""
    if not head:
        raise ReadError("file is empty; expected a spectrum file", path)
    for fmt in formats():
        if fmt.guess_can_open(path, head):
            return fmt
    raise ReadError(
        "no registered format recognises this file (binary content?); registered formats: "
        + ", ".join(f"{f.name} ({f.description})" for f in formats()),
        path,
    )


def select_group(labels: list[str], group: str | int | None, path: Path) -> int | None:
    """Index of ``group`` (label or 0-based index) among ``labels``; None if ``group`` is None.

    Raises
    ------
    ReadError
        Listing the groups when ``group`` matches none, or several, of them.
    """
    if group is None:
        return None
    listing = ", ".join(f"{i}: {lab!r}" for i, lab in enumerate(labels))
    if isinstance(group, int) and not isinstance(group, bool):
        if -len(labels) <= group < len(labels):
            return group % len(labels)
        raise ReadError(f"group index {group} out of range; groups are {listing}", path)
    matches = [i for i, lab in enumerate(labels) if lab == str(group)]
    if len(matches) == 1:
        return matches[0]
    what = "several groups are" if matches else "no group is"
    raise ReadError(f"{what} labelled {group!r}; groups are {listing}", path)


def run_reader(fmt: Format, path: Path, options: ReadOptions) -> list[Series]:
    """Call ``fmt.read_groups``, turning low-level decoding failures into `ReadError`."""
    try:
        groups = fmt.read_groups(path, options)
    except SpeciateError:
        raise
    except (OSError, EOFError, zlib.error, UnicodeError) as exc:
        raise ReadError(f"cannot read as {fmt.name}: {type(exc).__name__}: {exc}", path) from exc
    if not groups:
        raise ReadError(f"no spectra found (read as {fmt.name})", path)
    return groups
