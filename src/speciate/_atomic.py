"""Atomic file writes: results appear whole or not at all, and only ever as regular files."""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from speciate.errors import ValidationError

__all__ = ["atomic_path", "atomic_write_text", "check_output_path"]


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return name
    return "not a regular file"


def check_output_path(path: str | os.PathLike, inputs: Iterable[str | os.PathLike] = ()) -> Path:
    """``path`` as a `Path` if a result may be written there, else raise.

    A result may replace a regular file (or a link to one) or create a new file; it never
    replaces a directory, device, FIFO or socket (a rename onto ``/dev/null`` would turn the
    device into a file) nor any of ``inputs`` (compared by inode, so links are caught).

    Raises
    ------
    ValidationError
        Naming the path and what it is.
    """
    final = Path(path)
    try:
        st = os.stat(final)
    except FileNotFoundError:
        return final
    except OSError as exc:  # e.g. a path through a regular file ("a.csv/b.csv")
        raise ValidationError(f"cannot write {final}: {exc.strerror}") from exc
    if not stat.S_ISREG(st.st_mode):
        raise ValidationError(
            f"{final} is {_kind(st.st_mode)}; expected a regular file or a new path"
        )
    for item in inputs:
        try:
            other = os.stat(item)
        except OSError:
            continue
        if (other.st_dev, other.st_ino) == (st.st_dev, st.st_ino):
            raise ValidationError(f"{final} is an input file; refusing to overwrite it")
    return final


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; move it into place only if the block succeeds.

    Raises `ValidationError` before anything is written if ``path`` exists and is not a
    regular file (see `check_output_path`).
    """
    final = check_output_path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".part", dir=final.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    # mkstemp creates 0600 files; results should get the usual permissions
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp_path, 0o666 & ~umask)
    try:
        yield tmp_path
        # checked again: the target may have changed while the result was computed
        check_output_path(final)
        os.replace(tmp_path, final)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def atomic_write_text(path: str | os.PathLike, text: str, encoding: str = "utf-8") -> None:
    """Write ``text`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding=encoding)
