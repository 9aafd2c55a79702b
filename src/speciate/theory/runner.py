"""One runner for every engine: a subprocess in its own work directory, with a time limit.

The engine runs with ``cwd=work_dir`` in a new process group (never ``os.chdir`` in the
caller's process), its console output goes to a log file in the work directory, and the
run only counts as successful when the return code is 0 *and* every expected output file
exists and is not empty. FDMNES, for example, exits 0 after rejecting its input.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from speciate.errors import EngineError

__all__ = ["EngineTimeout", "RunRecord", "fresh_work_dir", "log_tail", "run_command"]


class EngineTimeout(EngineError):
    """The engine did not finish within its time limit and was stopped."""


@dataclass(frozen=True)
class RunRecord:
    """What happened in one engine run.

    Attributes
    ----------
    argv
        The command run.
    work_dir
        Where it ran.
    returncode
        The process's exit status.
    duration_s
        Wall time in seconds.
    log
        The file holding the engine's stdout and stderr.
    """

    argv: tuple[str, ...]
    work_dir: Path
    returncode: int
    duration_s: float
    log: Path


@contextlib.contextmanager
def fresh_work_dir(
    prefix: str = "speciate-", parent: str | os.PathLike | None = None
) -> Iterator[Path]:
    """A new empty directory, removed with its contents when the block ends."""
    with tempfile.TemporaryDirectory(prefix=prefix, dir=parent) as tmp:
        yield Path(tmp)


def log_tail(path: str | os.PathLike, n_lines: int = 20) -> str:
    """The last ``n_lines`` lines of a text file ("" if it does not exist)."""
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - 16384))
            text = fh.read().decode("utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.rstrip().splitlines()[-n_lines:])


def _kill_group(proc: subprocess.Popen) -> None:
    # The engine may start children of its own (FEFF10 runs each stage in a worker), so
    # the whole process group is stopped, not just the direct child.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=10)


def run_command(
    argv: Sequence[str],
    work_dir: str | os.PathLike,
    *,
    timeout: float | None = None,
    expected: Sequence[str] = (),
    log_name: str = "engine.log",
    env: Mapping[str, str] | None = None,
    check_output: Callable[[Path], None] | None = None,
) -> RunRecord:
    """Run ``argv`` in ``work_dir`` and check that it produced what it should.

    Parameters
    ----------
    argv
        Program and arguments.
    work_dir
        Directory the program runs in (``cwd=``); its input files must be there.
    timeout
        Wall-time limit in seconds, or None for no limit.
    expected
        File names (relative to ``work_dir``) that must exist and be non-empty afterwards.
    log_name
        File in ``work_dir`` receiving the program's stdout and stderr.
    env
        Extra environment variables for the program.
    check_output
        Engine-specific check called with ``work_dir`` after the run (e.g. looking for an
        error file); it raises `EngineError` when the outputs are not usable.

    Returns
    -------
    RunRecord

    Raises
    ------
    EngineTimeout
        When the time limit is exceeded (the process group is killed).
    EngineError
        When the program cannot be started, exits non-zero, or leaves an expected output
        missing or empty; the message carries the tail of its log.
    """
    work = Path(work_dir)
    if not work.is_dir():
        raise EngineError(f"work directory {work} does not exist")
    log = work / log_name
    full_env = dict(os.environ)
    full_env.update(env or {})
    start = time.perf_counter()
    with open(log, "wb") as fh:
        try:
            proc = subprocess.Popen(
                list(argv),
                cwd=work,
                stdin=subprocess.DEVNULL,
                stdout=fh,
                stderr=subprocess.STDOUT,
                env=full_env,
                start_new_session=True,
            )
        except OSError as exc:
            raise EngineError(f"cannot start {argv[0]!r}: {exc}") from exc
        try:
            returncode = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            raise EngineTimeout(
                f"{Path(argv[0]).name} did not finish within {timeout:g} s in {work}; stopped it",
                log_tail(log),
            ) from None
        except BaseException:
            _kill_group(proc)
            raise
    duration = time.perf_counter() - start
    record = RunRecord(tuple(argv), work, int(returncode), duration, log)
    if returncode != 0:
        raise EngineError(
            f"{Path(argv[0]).name} exited with code {returncode} after {duration:.1f} s in {work}",
            log_tail(log),
        )
    if check_output is not None:
        check_output(work)
    missing = [name for name in expected if not (work / name).is_file()]
    empty = [name for name in expected if name not in missing and (work / name).stat().st_size == 0]
    if missing or empty:
        what = "; ".join(
            part
            for part in (
                f"missing {missing}" if missing else "",
                f"empty {empty}" if empty else "",
            )
            if part
        )
        raise EngineError(
            f"{Path(argv[0]).name} exited 0 but its expected outputs are not there ({what}) "
            f"in {work}",
            log_tail(log),
        )
    return record
