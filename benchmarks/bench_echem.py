"""Benchmark: a 1-million-row cycler record through cycles + capacity + dQ/dV.

Compares speciate.echem (vectorized: bincount/reduceat over the whole record) with a plain
reference written the usual way (a Python loop over rows for the segmentation, a pandas
groupby for capacities, a loop over half-cycles with np.histogram for dQ/dV), run in the
same process on the same record. Prints times, rows/s and the ratio.

With ``--navani PYTHON`` the same record also goes through navani (segmentation
``biologic_processing``, ``cycle_summary``, ``dqdv_single_cycle`` per half-cycle), run by
PYTHON, the interpreter of a separate environment where navani is installed (navani pins
numpy < 2, so it cannot share speciate's environment). Pin scipy < 1.17 there: SciPy 1.17.1
computes Savitzky-Golay coefficients for navani's default final window (1001 points, order
5) that sum to ~0 instead of 1 (scipy/scipy#25133), which flattens navani's dQ/dV:

    python -m venv navani-env && navani-env/bin/pip install navani "scipy<1.17"

Checks (exit 1 when one fails): discharge capacities equal the reference's to 1e-9 mAh,
dQ/dV to 1e-3 of its largest value, speciate at least 2x faster than the reference; with
navani, the same capacities (1e-6 mAh) and dQ/dV peaks within 5 mV of the plateaus.

Run: python benchmarks/bench_echem.py [n_rows] [--navani /path/to/navani-env/bin/python]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.ndimage import gaussian_filter1d

from _checks import Checks
from speciate.echem import capacity_per_cycle, dqdv, segment
from speciate.echem.synthetic import galvanostatic


def record(n_rows: int):
    # one cycle = 2500 + 2250 rows of current + 2 x 42 rows of rest at dt = 1.44 s
    per_cycle = 2500 + 2250 + 2 * 42
    n_cycles = max(1, round(n_rows / per_cycle))
    return galvanostatic(
        n_cycles, charge_capacity_mah=1.0, discharge_capacity_mah=0.9, dt_s=1.44, rest_s=60.0
    )


def speciate_pipeline(cyc):
    seg = segment(cyc)
    summary = capacity_per_cycle(cyc, segmentation=seg)
    curves = dqdv(cyc, segmentation=seg)
    return summary, curves


def reference_pipeline(df: pd.DataFrame, step: float = 0.005, smooth: float = 0.01):
    # segmentation: one pass over the rows in Python
    current = df["current_ma"].tolist()
    thr = 1e-3 * max(abs(c) for c in current)
    half, direction, last = [], [], 0
    hc = 0
    for c in current:
        d = 1 if c > thr else (-1 if c < -thr else 0)
        if d != 0 and d != last:
            hc += 1
            direction.append(d)
            last = d
        half.append(max(hc, 1))
    df = df.assign(half_cycle=half)
    df["dq"] = df["current_ma"] * df["time_s"].diff().fillna(0.0) / 3600.0
    df["de"] = df["dq"] * df["voltage_v"]
    per_hc = df.groupby("half_cycle").agg(q=("dq", "sum"), e=("de", "sum"))
    per_hc["direction"] = direction
    per_hc["cycle"] = np.cumsum(np.array(direction) == direction[0])
    cap = per_hc.groupby(["cycle", "direction"])["q"].sum().abs().unstack()
    # dQ/dV: a loop over half-cycles, np.histogram each
    lo = df["voltage_v"].min() - 4 * smooth
    hi = df["voltage_v"].max() + 4 * smooth
    edges = np.arange(np.floor(lo / step) * step, hi + step, step)
    out = []
    for _, g in df.groupby("half_cycle"):
        h, _ = np.histogram(g["voltage_v"], bins=edges, weights=g["dq"])
        out.append(gaussian_filter1d(h / step, smooth / step, mode="constant"))
    return cap, np.array(out)


# Runs in navani's own environment: reads the record from an .npz, prints one JSON line.
NAVANI_SCRIPT = r"""
import json, sys, time
import numpy as np, pandas as pd
from navani import echem as ec

d = np.load(sys.argv[1])
df = pd.DataFrame({"time/s": d["time_s"], "Ewe/V": d["voltage_v"], "I/mA": d["current_ma"],
                   "Q charge/discharge/mA.h": d["q_mah"]})
t0 = time.perf_counter()
df = ec.biologic_processing(df)
t1 = time.perf_counter()
summary = ec.cycle_summary(df)
t2 = time.perf_counter()
peaks = []
for _, g in df[df["state"] != "R"].groupby("half cycle"):
    v, dqdv, _ = ec.dqdv_single_cycle(g["Capacity"].to_numpy(), g["Voltage"].to_numpy())
    peaks.append(float(v[np.argmax(np.abs(dqdv))]))
t3 = time.perf_counter()
# the record opens with one rest row, which navani counts as full cycle 0
dis = summary.loc[summary.index >= 1, "Discharge Capacity"]
print(json.dumps({"segment_s": t1 - t0, "summary_s": t2 - t1, "dqdv_s": t3 - t2,
                  "discharge_mah": dis.tolist(), "peaks_v": peaks}))
"""


def run_navani(python: str, cyc) -> dict:
    """Time navani on ``cyc`` in the interpreter ``python``; its results and timings."""
    q = cyc.charge_capacity_mah - cyc.discharge_capacity_mah  # EC-Lab's signed counter
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "record.npz"
        np.savez(path, time_s=cyc.time_s, voltage_v=cyc.voltage_v,
                 current_ma=cyc.current_ma, q_mah=q)  # fmt: skip
        out = subprocess.run(
            [python, "-c", NAVANI_SCRIPT, str(path)], capture_output=True, text=True, check=True
        )
    return json.loads(out.stdout.strip().splitlines()[-1])


def best_of(fn, *args, repeat: int = 3) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn(*args)
        times.append(time.perf_counter() - t0)
    return min(times), result


def main() -> Checks:
    checks = Checks("bench_echem")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n_rows", nargs="?", type=int, default=1_000_000)
    parser.add_argument("--navani", metavar="PYTHON", help="interpreter of a navani env")
    args = parser.parse_args()
    n_rows = args.n_rows
    cyc = record(n_rows)
    n = cyc.n_rows
    df = cyc.to_dataframe()[["time_s", "voltage_v", "current_ma"]]
    t_fast, (summary, curves) = best_of(speciate_pipeline, cyc)
    t_ref, (cap, ref_dqdv) = best_of(reference_pipeline, df, repeat=1)
    d_cap = np.nanmax(np.abs(summary.discharge_capacity_mah - cap[-1].to_numpy()))
    d_dqdv = np.nanmax(np.abs(np.nan_to_num(curves.dqdv) - ref_dqdv[:, : curves.dqdv.shape[1]]))
    print(f"record: {n} rows, {summary.cycle.size} cycles, {curves.n_curves} half-cycles")
    print(f"speciate.echem  cycles+capacity+dQ/dV: {t_fast:8.3f} s  {n / t_fast:12,.0f} rows/s")
    print(f"reference loop/groupby               : {t_ref:8.3f} s  {n / t_ref:12,.0f} rows/s")
    print(f"speed-up: {t_ref / t_fast:.1f}x")
    print(
        f"agreement: max |Δ discharge capacity| = {d_cap:.2e} mAh, max |Δ dQ/dV| = "
        f"{d_dqdv:.2e} mAh/V"
    )
    checks.agree("max |Δ discharge capacity| vs the reference", d_cap, 1e-9, "mAh")
    scale = np.nanmax(np.abs(curves.dqdv))
    checks.agree("max |Δ dQ/dV| / max |dQ/dV| vs the reference", d_dqdv / scale, 1e-3)
    checks.at_least("speed-up over the reference", t_ref / t_fast, 2.0, "x")
    if args.navani:
        nav = run_navani(args.navani, cyc)
        t_seg, t_sum, t_dq = nav["segment_s"], nav["summary_s"], nav["dqdv_s"]
        t_nav = t_seg + t_sum + t_dq
        truth = np.where(curves.direction > 0, 3.9, 3.85)
        nav_peaks = np.array(nav["peaks_v"])
        d_nav = np.nanmax(np.abs(np.array(nav["discharge_mah"]) - summary.discharge_capacity_mah))
        for name, t in (
            ("segmentation (biologic_processing)", t_seg),
            ("cycle_summary", t_sum),
            ("dqdv_single_cycle, each half-cycle", t_dq),
        ):
            print(f"navani {name:35s}: {t:8.3f} s  {n / t:12,.0f} rows/s")
        print(f"navani total: {t_nav:.3f} s; speciate is {t_nav / t_fast:.0f}x faster")
        print(f"navani vs speciate: max |Δ discharge capacity| = {d_nav:.2e} mAh")
        print(
            "dQ/dV peak error vs the plateaus (3.9 V charge, 3.85 V discharge): "
            f"speciate {np.abs(curves.peak_voltage_v - truth).max() * 1e3:.1f} mV, "
            f"navani {np.abs(nav_peaks - truth[: nav_peaks.size]).max() * 1e3:.1f} mV "
            f"({nav_peaks.size} half-cycles)"
        )
        checks.agree("max |Δ discharge capacity| vs navani", d_nav, 1e-6, "mAh")
        peak_err = np.abs(curves.peak_voltage_v - truth).max()
        checks.agree("speciate dQ/dV peak vs the plateaus", peak_err * 1e3, 5.0, "mV")
    return checks


if __name__ == "__main__":
    sys.exit(main().exit_code)
