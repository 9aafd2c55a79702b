"""Derivative maxima of computed Mn K-edge XANES against cluster radius, for the bundled phases.

Does a "triplet" of derivative maxima in 6545-6560 eV appear only for the spinel, and only
from R >= 5 Å? This script computes the spectra (FEFF10 with and without SCF, FDMNES where
installed) for every phase and radius, and tabulates the derivative maxima with one stated
rule. Every engine run goes through the content-hash cache, so the script resumes where a
previous (killed) run stopped and a second run only re-tabulates.

Detection rule (the same for every engine, phase and radius):

1. spectra per absorbing atom, normalized by `speciate.theory.normalize` (post-edge mean over
   E_F + 40..70 eV, clipped to the grid, = 1);
2. one common energy shift per engine and mode (``--align-to``: the main derivative maximum of
   the LiMn2O4 R = 5 Å spectrum is put on that of the reference spectrum, e.g. FDMNES's
   ``LiMn2O4_R5_conv.txt``); without a reference, no shift;
3. a Gaussian of ``--gaussian`` eV FWHM (default 1.0) on the engine's own grid;
4. dμ/dE by finite differences (`numpy.gradient`) on that grid;
5. positive local maxima of dμ/dE with a prominence >= ``--prominence`` (default 5 %) of the
   largest dμ/dE in the window, kept if inside ``--window`` (default 6543-6562 eV, after the
   shift) (`speciate.theory.maxima.derivative_maxima`).

Heights are in normalized μ per eV; "flatness" is the smallest over the largest height of
the maxima found (1 = equal heights). Pre-edge peaks: local maxima of the broadened μ more
than 3 eV below the main derivative maximum, prominence >= 0.005.

Examples
--------
No-SCF FEFF sweep of two phases over the seed's radii, one job at a time::

    python examples/derivative_maxima_sweep.py --phases LiMn2O4,Li2MnO3 --modes noscf \\
        --workers 1 --align-to LiMn2O4_R5_conv.txt --output sweep-results.md

FDMNES runs finished elsewhere (e.g. the shared fixtures) tabulated by the same rule::

    python examples/derivative_maxima_sweep.py --modes "" --fdmnes-outputs fixtures/fdmnes \\
        --align-to fixtures/fdmnes/limn2o4_r5/LiMn2O4_R5_conv.txt

The tables and timings measured with this script are in ``docs/theory.md``.

Everything (about 45 CPU-minutes without SCF; SCF runs use a 6 Å ATOMS list and only
LiMn2O4 and Li2MnO3)::

    python examples/derivative_maxima_sweep.py --modes noscf,scf --workers 2
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
import time
from pathlib import Path

import numpy as np
from scipy.signal import find_peaks

from speciate.series import Series
from speciate.structures import available, cluster, load
from speciate.theory import normalize, read_fdmnes_conv, sweep
from speciate.theory.broadening import align_to, gaussian_broaden
from speciate.theory.maxima import derivative_maxima

SEED_RADII = (2.0, 3.0, 3.5, 4.6, 5.0, 5.5, 6.0, 6.8)
MN_PHASES = ("LiMn2O4", "Li2MnO3", "NMC111", "Mn3O4", "MnO", "Mn2O3", "MnO2")
SCF_PHASES = ("LiMn2O4", "Li2MnO3")
MODES = {
    "noscf": {},
    # SCF cost grows fast with the ATOMS list: the potential is computed on 6 Å only
    "scf": {"scf": 4.5, "pot_radius": 6.0},
}


def preedge_peaks(energy: np.ndarray, mu: np.ndarray) -> list[list[tuple[float, float]]]:
    """Local maxima of μ more than 3 eV below the main dμ/dE maximum of each row."""
    dmu = np.gradient(mu, energy, axis=-1)
    edge = energy[np.argmax(dmu, axis=-1)]
    out = []
    for row, e_main in zip(mu, edge):
        peaks, _ = find_peaks(row, prominence=0.005)
        out.append([(float(energy[p]), float(row[p])) for p in peaks if energy[p] < e_main - 3])
    return out


def _fmt(peaks: list[tuple[float, float]], digits: int = 3) -> tuple[str, str]:
    if not peaks:
        return "–", "–"
    return (
        ", ".join(f"{e:.1f}" for e, _ in peaks),
        ", ".join(f"{h:.{digits}f}" for _, h in peaks),
    )


def _reference(path: str | None) -> Series | None:
    if not path:
        return None
    spec = read_fdmnes_conv(path, e_edge=6539.0) if path.endswith("_conv.txt") else None
    if spec is None:
        raise SystemExit(f"--align-to expects an FDMNES _conv.txt file; got {path}")
    return spec.to_series("reference")


_FDMNES_NAME = re.compile(r"^(?P<phase>[A-Za-z0-9]+)_R(?P<radius>[0-9.]+)_conv\.txt$")


def stored_fdmnes(folder: str) -> list[Series]:
    """FDMNES runs already on disk: every ``<Phase>_R<radius>_conv.txt`` under ``folder``
    with its raw ``.txt`` beside it (for E_edge, E_cut and the absorber count), one
    series per phase with coords ``phase`` and ``radius``."""
    found: dict[str, list[tuple[float, object]]] = {}
    for path in sorted(Path(folder).rglob("*_conv.txt")):
        match = _FDMNES_NAME.match(path.name)
        raw = path.with_name(path.name.replace("_conv.txt", ".txt"))
        if match and raw.is_file():
            spec = read_fdmnes_conv(path)
            found.setdefault(match["phase"], []).append((float(match["radius"]), spec))
    out = []
    for phase, runs in found.items():
        runs.sort(key=lambda x: x[0])
        energy = runs[0][1].energy
        if any(not np.array_equal(s.energy, energy) for _, s in runs):
            raise SystemExit(f"stored FDMNES runs of {phase} are on different grids")
        out.append(
            Series(
                energy,
                np.stack([s.mu for _, s in runs]),
                labels=[f"{phase} R={r:g}" for r, _ in runs],
                coords={
                    "phase": [phase] * len(runs),
                    "radius": [r for r, _ in runs],
                    "e_fermi": [s.e_fermi for _, s in runs],
                    "n_absorbers": [s.n_absorbers for _, s in runs],
                    "engine": "fdmnes",
                },
            )
        )
    return out


def common_shift(series_list: list[Series], reference: Series | None) -> float:
    """Shift (eV) putting the LiMn2O4 R = 5 Å main dμ/dE maximum on the reference's (0 if none)."""
    for series in series_list:
        if reference is not None and "LiMn2O4 R=5" in series.labels:
            found = align_to(series, reference, "edge", using="LiMn2O4 R=5")
            return float(np.ravel(found.shift)[0])
    return 0.0


def tabulate(series: Series, shift: float, args: argparse.Namespace) -> list[tuple]:
    """One row per radius: maxima, flatness and pre-edge peaks by the stated rule."""
    norm = normalize(series, post=(40.0, 70.0)).to_series("norm")
    shifted = norm.replace(energy=norm.energy + shift)
    window = tuple(float(x) for x in args.window.split(","))
    found = derivative_maxima(shifted, window, args.prominence, args.gaussian)
    maxima = [list(zip(p, h)) for p, h in zip(found.positions, found.heights)]
    smooth = gaussian_broaden(shifted, args.gaussian) if args.gaussian > 0 else shifted
    pre = preedge_peaks(shifted.energy, smooth.mu)
    phase = str(series.coords["phase"][0])
    radii = [float(r) for r in series.coords["radius"]]
    first_site = cluster(load(phase), radius=max(radii))[0]
    rows = []
    for i, r in enumerate(radii):
        heights = [h for _, h in maxima[i]]
        flat = min(heights) / max(heights) if len(heights) > 1 else float("nan")
        n_atoms = int((first_site.distances <= r + 1e-6).sum())
        rows.append((phase, r, n_atoms, maxima[i], flat, pre[i], shift))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--phases", default=",".join(MN_PHASES))
    parser.add_argument("--radii", default=",".join(f"{r:g}" for r in SEED_RADII))
    parser.add_argument("--modes", default="noscf", help="noscf, scf or noscf,scf")
    parser.add_argument("--fdmnes", action="store_true", help="also FDMNES (if installed)")
    parser.add_argument(
        "--fdmnes-outputs", default=None,
        help="folder of finished FDMNES runs (<Phase>_R<r>_conv.txt) to tabulate too",
    )  # fmt: skip
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--cache-dir", default=None)
    parser.add_argument("--align-to", default=None, help="FDMNES LiMn2O4 R=5 _conv.txt")
    parser.add_argument("--gaussian", type=float, default=1.0, help="FWHM, eV")
    parser.add_argument("--prominence", type=float, default=0.05)
    parser.add_argument("--window", default="6543,6562", help="eV, after the shift")
    parser.add_argument("--output", default="theory-sweep-results.md")
    args = parser.parse_args(argv)
    phases = [p for p in args.phases.split(",") if p]
    radii = [float(r) for r in args.radii.split(",") if r]
    reference = _reference(args.align_to)
    runs = [("feff", mode) for mode in args.modes.split(",") if mode]
    if args.fdmnes and (os.environ.get("SPECIATE_FDMNES") or shutil.which("fdmnes")):
        runs.append(("fdmnes", "green"))
    elif args.fdmnes:
        print("FDMNES is not installed: skipping its sweep", file=sys.stderr)
    rows, timings, failures = [], [], []
    for engine, mode in runs:
        options = MODES.get(mode, {}) if engine == "feff" else {}
        todo = [p for p in phases if mode != "scf" or p in SCF_PHASES]
        series_list = []
        for phase in todo:
            start = time.perf_counter()
            res = sweep(
                phase, radii, engine=engine, options=options, n_workers=args.workers,
                cache_dir=args.cache_dir, progress=True,
            )  # fmt: skip
            failures += [(engine, mode, f) for f in res.failures]
            timings += [
                (engine, mode, s.phase, s.site, s.radius, s.duration_s, s.cached)
                for s in res.spectra
            ]
            print(f"{engine}/{mode} {phase}: {res} in {time.perf_counter() - start:.1f} s")
            if res.series is not None:
                series_list.append(res.series)
        shift = common_shift(series_list, reference)
        for series in series_list:
            rows += [(engine, mode, *row) for row in tabulate(series, shift, args)]
    if args.fdmnes_outputs:
        stored = stored_fdmnes(args.fdmnes_outputs)
        shift = common_shift(stored, reference)
        for series in stored:
            rows += [("fdmnes", "stored", *row) for row in tabulate(series, shift, args)]
    write_report(Path(args.output), rows, timings, failures, args, argv)
    print(f"wrote {args.output}")
    return 0


def write_report(path: Path, rows, timings, failures, args, argv) -> None:
    """The markdown result table, failures and timings."""
    cmd = " ".join(["python examples/derivative_maxima_sweep.py", *(argv or sys.argv[1:])])
    lines = [
        "<!-- generated by examples/derivative_maxima_sweep.py; do not edit by hand -->",
        f"Command: `{cmd}`",
        "",
        f"Rule: per-absorber normalization (post-edge E_F + 40..70 eV), common shift per "
        f"engine/mode, Gaussian {args.gaussian:g} eV FWHM, dμ/dE by finite differences, "
        f"maxima with prominence >= {args.prominence:.0%} of the largest dμ/dE in "
        f"{args.window.replace(',', '–')} eV (after the shift).",
        "",
        "| engine | mode | phase | R (Å) | atoms ≤ R (site 1) | n max | maxima (eV) | heights "
        "(1/eV) | flatness | pre-edge peaks (eV: μ) | shift (eV) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for engine, mode, phase, r, n_atoms, maxima, flat, pre, shift in rows:
        pos, hts = _fmt(maxima)
        pre_txt = ", ".join(f"{e:.1f}: {h:.3f}" for e, h in pre) or "none"
        flat_txt = "–" if np.isnan(flat) else f"{flat:.2f}"
        lines.append(
            f"| {engine} | {mode} | {phase} | {r:g} | {n_atoms} | {len(maxima)} | {pos} | {hts} "
            f"| {flat_txt} | {pre_txt} | {shift:+.2f} |"
        )
    lines += ["", "Failures:", ""]
    lines += [
        f"- {e}/{m} {f.phase} site {f.site} R={f.radius:g}: {f.error.splitlines()[0]}"
        for e, m, f in failures
    ] or ["- none"]
    lines += [
        "",
        "Engine wall time per run (s; measured when the run was computed, on a shared 2-core "
        "machine):",
        "",
        "| engine | mode | phase | site | R (Å) | run s |",
        "|---|---|---|---|---|---|",
    ]
    lines += [f"| {e} | {m} | {p} | {s} | {r:g} | {d:.1f} |" for e, m, p, s, r, d, _ in timings]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    assert set(MN_PHASES) <= set(available())
    sys.exit(main())
