"""Reading speed: speciate.io.read_many and the Athena reader on generated files.

Writes, in a temporary folder, 200 operando-like text files (1649 points, 5 columns,
'#' header with a start time) and an Athena project with 40 groups of 2000 points.
Prints the time per file (or group) and the ratio against a plain reference run in
the same process: ``numpy.loadtxt`` per file + ``numpy.stack`` for the column files,
and gzip + one regex per array + ``float`` for the project. speciate does more work
(format sniffing, header parsing, validation, SHA-256 of every input, provenance), so
a ratio near 1 means that work is nearly free.

Checks (exit 1 when one fails): read_many gives the reference's values exactly (1e-12
relative), the project holds every group, and each reader costs at most 3x its plain
reference (1.4x measured, see docs/io.md).
"""

from __future__ import annotations

import gzip
import re
import sys
import tempfile
from pathlib import Path

import numpy as np

import speciate.io as sio
from _checks import Checks
from _timing import best_of

N_FILES, N_POINTS = 200, 1649
N_GROUPS, N_GROUP_POINTS = 40, 2000


def write_operando(folder: Path, rng: np.random.Generator) -> list[Path]:
    energy = np.concatenate([np.arange(8060, 8300, 5.0), np.linspace(8300, 9500, N_POINTS - 48)])
    paths = []
    for i in range(N_FILES):
        cols = np.column_stack([energy, *rng.normal(size=(4, N_POINTS))])
        header = (
            "This file has been produced by extranormal (v 1.0.1)\n"
            f"Time at start=2022-07-26 {i // 60 % 24:02d}:{i % 60:02d}:00.000\n"
            "shifted energy\tnormalized\treference\tref.derivative\tI0"
        )
        path = folder / f"scan_{i + 1:04d}.txt"
        np.savetxt(path, cols, fmt="%.8g", header=header)
        paths.append(path)
    return paths


def write_project(path: Path, rng: np.random.Generator) -> None:
    lines = ["# Athena project file -- generated", ""]
    for g in range(N_GROUPS):
        x = 6300 + np.cumsum(rng.uniform(0.1, 1.0, N_GROUP_POINTS))
        y = rng.normal(size=N_GROUP_POINTS)
        quoted = lambda a: ",".join(f"'{v:.6f}'" for v in a)  # noqa: E731
        lines += [
            f"$old_group = 'g{g:03d}';",
            f"@args = ('label','group {g}','bkg_eshift','{rng.uniform(-2, 2):.4f}','bkg_e0',6539);",
            f"@x = ({quoted(x)});",
            f"@y = ({quoted(y)});",
            "[record]   # create object",
            "",
        ]
    path.write_bytes(gzip.compress("\n".join(lines).encode()))


def plain_columns(paths: list[Path]) -> np.ndarray:
    """The plain reference: loadtxt every file, stack column 2."""
    return np.stack([np.loadtxt(p)[:, 1] for p in paths])


def plain_project(path: Path) -> list[np.ndarray]:
    """The plain reference: gunzip, then one regex per @x/@y line."""
    text = gzip.decompress(path.read_bytes()).decode()
    return [
        np.array(re.findall(r"'([^']*)'", line), dtype=float)
        for line in text.splitlines()
        if line.startswith(("@x", "@y"))
    ]


def main() -> Checks:
    checks = Checks("bench_io")
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "operando"
        folder.mkdir()
        paths = write_operando(folder, rng)
        series = sio.read_many(folder)
        plain = plain_columns(paths)
        diff = np.abs(series.mu - plain).max() / np.abs(plain).max()
        checks.agree("read_many vs loadtxt, max relative difference", diff, 1e-12)
        t_ours = best_of(lambda: sio.read_many(folder))
        t_plain = best_of(lambda: plain_columns(paths))
        ms_ours, ms_plain = t_ours * 1e3 / N_FILES, t_plain * 1e3 / N_FILES
        print(
            f"read_many, {N_FILES} files x {N_POINTS} points: {ms_ours:.2f} ms/file "
            f"(plain loadtxt loop {ms_plain:.2f} ms/file, ratio {t_ours / t_plain:.2f})"
        )
        checks.target("read_many time / plain loop", t_ours / t_plain, 3.0, "x")
        prj = Path(tmp) / "project.prj"
        write_project(prj, rng)
        groups = sio.read_groups(prj)
        checks.require(f"Athena project: {len(groups)} of {N_GROUPS} groups read",
                       len(groups) == N_GROUPS)  # fmt: skip
        t_ours = best_of(lambda: sio.read_groups(prj))
        t_plain = best_of(lambda: plain_project(prj))
        print(
            f"read_groups, Athena project {N_GROUPS} groups x {N_GROUP_POINTS} points: "
            f"{t_ours * 1e3 / N_GROUPS:.2f} ms/group (plain regex {t_plain * 1e3 / N_GROUPS:.2f} "
            f"ms/group, ratio {t_ours / t_plain:.2f})"
        )
        checks.target("read_groups time / plain regex", t_ours / t_plain, 3.0, "x")
    return checks


if __name__ == "__main__":
    sys.exit(main().exit_code)
