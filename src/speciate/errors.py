"""One exception hierarchy for everything speciate raises on purpose.

Every error says what was expected and what was found; errors raised while
reading a file also carry the file and, where it applies, the line.
"""

from __future__ import annotations

import importlib
from os import PathLike
from types import ModuleType

__all__ = [
    "EngineError",
    "FitError",
    "MissingExtraError",
    "ReadError",
    "SpeciateError",
    "StructureError",
    "ValidationError",
    "import_extra",
]


class SpeciateError(Exception):
    """Base class of all errors raised by speciate."""


class ValidationError(SpeciateError, ValueError):
    """An argument or a data object does not meet the documented contract."""


class ReadError(SpeciateError, OSError):
    """A file could not be read or understood.

    Parameters
    ----------
    message
        What was expected and what was found.
    path
        The file being read.
    line
        1-based line number where the problem was found, when it applies.
    """

    def __init__(
        self, message: str, path: str | PathLike | None = None, line: int | None = None
    ) -> None:
        self.message = message
        self.path = None if path is None else str(path)
        self.line = line
        where = ""
        if self.path is not None:
            where = self.path if line is None else f"{self.path}, line {line}"
            where += ": "
        super().__init__(f"{where}{message}")

    def __str__(self) -> str:
        return self.args[0]


class MissingExtraError(SpeciateError, ImportError):
    """An optional dependency needed for this step is not installed.

    Parameters
    ----------
    package
        The missing package (as imported, e.g. ``"rsciio"``).
    extra
        The speciate extra that installs it (``"theory"``, ``"eels"``, ``"echem"``...).
    purpose
        What needed it (``"reading DM4 files"``), to start the message.
    """

    def __init__(self, package: str, extra: str, purpose: str) -> None:
        self.package = package
        self.extra = extra
        self.purpose = purpose
        super().__init__(
            f"{purpose} needs the '{package}' package, which is not installed; install "
            f"speciate's {extra} extra: pip install 'speciate[{extra}]'"
        )

    def __str__(self) -> str:
        return self.args[0]


def import_extra(module: str, extra: str, purpose: str) -> ModuleType:
    """Import an optional dependency, or raise `MissingExtraError` naming its extra.

    Parameters
    ----------
    module
        Dotted module name (``"rsciio.digitalmicrograph"``).
    extra
        The speciate extra that provides it.
    purpose
        What needs it, for the message (``"reading dm4 files"``).
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingExtraError(module.split(".")[0], extra, purpose) from exc


class FitError(SpeciateError, ValueError):
    """A fit cannot be set up or solved (bad standards, degenerate design matrix...)."""


class StructureError(SpeciateError, ValueError):
    """A crystal structure cannot be loaded or turned into a cluster."""


class EngineError(SpeciateError, RuntimeError):
    """An external theory engine (FEFF, FDMNES) failed, timed out or produced no output.

    Parameters
    ----------
    message
        What went wrong.
    log_tail
        The last lines of the engine's log, shown to the user.
    """

    def __init__(self, message: str, log_tail: str | None = None) -> None:
        self.message = message
        self.log_tail = log_tail
        text = message if not log_tail else f"{message}\n--- engine log (tail) ---\n{log_tail}"
        super().__init__(text)
