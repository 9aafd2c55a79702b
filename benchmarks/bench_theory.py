"""Benchmark: FEFF10 radius sweep of LiMn2O4 — plain loop vs speciate.theory.sweep.

Reference: a plain Python loop calling ``feff10.run`` (all 18 stages) once per radius, in
fresh directories, no cache. Then `speciate.theory.sweep` serially (one job at a time,
shared potential), in parallel (2 local workers), and again from the cache. Prints wall
times, ratios against the reference and the cost per radius.

Checks (exit 1 when one fails): every sweep finishes without failures; the cached rerun
computes nothing and is at least 50x faster than the reference; the serial sweep (shared
potential) is no slower than the reference; serial and parallel sweeps give the same
spectra (1e-9 relative).

Run: ``python benchmarks/bench_theory.py [--radii 2,3,3.5,4.6]`` (about a minute on 2 cores).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import time
from collections.abc import Iterator

import numpy as np

from _checks import Checks
from speciate.structures import cluster, load
from speciate.theory import sweep
from speciate.theory.feff import FeffOptions, feff_input_text


@contextlib.contextmanager
def _quiet_stdout() -> Iterator[None]:
    # FEFF writes its progress to file descriptor 1 from native code
    saved = os.dup(1)
    with open(os.devnull, "w") as null:
        os.dup2(null.fileno(), 1)
        try:
            yield
        finally:
            os.dup2(saved, 1)
            os.close(saved)


def reference_loop(radii: list[float]) -> dict[float, float]:
    """Plain loop: one full feff10.run per radius (ATOMS to R + 1 Å), seconds per radius."""
    import feff10

    big = cluster(load("LiMn2O4"), radius=max(radii) + 1.0)[0]
    times = {}
    for r in radii:
        text = feff_input_text(big, r, r + 1.0, FeffOptions())
        with tempfile.TemporaryDirectory() as work, _quiet_stdout():
            start = time.perf_counter()
            feff10.run(text, work)
            times[r] = time.perf_counter() - start
    return times


def main() -> Checks:
    checks = Checks("bench_theory")
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--radii", default="2,3,3.5,4.6")
    args = parser.parse_args()
    radii = [float(r) for r in args.radii.split(",")]
    print(
        f"LiMn2O4, FEFF10 no SCF, fine EGRID (223 points), radii {radii} Å, {os.cpu_count()} CPUs"
    )

    ref = reference_loop(radii)
    t_ref = sum(ref.values())
    print(f"reference loop (feff10.run per radius): {t_ref:7.1f} s")

    results = {}
    for name, workers in (("serial", 1), ("parallel", 2)):
        with tempfile.TemporaryDirectory() as cache:
            start = time.perf_counter()
            res = sweep("LiMn2O4", radii, n_workers=workers, cache_dir=cache, progress=False)
            wall = time.perf_counter() - start
            checks.require(f"{name} sweep: no failures {list(res.failures)}", not res.failures)
            results[name] = (wall, res)
            if name == "parallel":
                start = time.perf_counter()
                hit = sweep("LiMn2O4", radii, n_workers=workers, cache_dir=cache, progress=False)
                results["cached"] = (time.perf_counter() - start, hit)
                checks.require("cached sweep computes nothing", hit.stats["computed"] == 0)
    for name, (wall, _) in results.items():
        print(f"sweep {name:<9s}: {wall:7.2f} s   reference / this = {t_ref / wall:6.2f}x")
    checks.at_least("serial sweep: reference / this", t_ref / results["serial"][0], 1.0, "x")
    checks.at_least("cached sweep: reference / this", t_ref / results["cached"][0], 50.0, "x")
    a, b = results["serial"][1].series, results["parallel"][1].series
    checks.require("serial and parallel sweeps give spectra", a is not None and b is not None)
    if a is not None and b is not None:
        diff = np.abs(a.mu - b.mu).max() / np.abs(a.mu).max()
        checks.agree("serial vs parallel spectra, max relative difference", diff, 1e-9)

    serial = results["serial"][1]
    print("\nper-radius cost (s): full run (reference) | FMS-only run on the shared potential")
    for run in serial.spectra:
        n = cluster(load("LiMn2O4"), radius=run.radius)[0].n_atoms
        full, fms = ref[run.radius], run.duration_s
        print(f"  R = {run.radius:4.1f} Å ({n:3d} atoms): {full:6.1f} | {fms:6.1f}")
    return checks


if __name__ == "__main__":
    sys.exit(main().exit_code)
