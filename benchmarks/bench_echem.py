"""Benchmark: a 1-million-row cycler record through cycles + capacity + dQ/dV.

Compares speciate.echem (vectorized: bincount/reduceat over the whole record) with a plain
reference written the usual way (a Python loop over rows for the segmentation, a pandas
groupby for capacities, a loop over half-cycles with np.histogram for dQ/dV), run in the
same process on the same record. Prints times, rows/s and the ratio.

Run: python benchmarks/bench_echem.py [n_rows]
"""

from __future__ import annotations

import sys
import time

import numpy as np
import pandas as pd
from scipy.ndimage import gaussian_filter1d

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


def best_of(fn, *args, repeat: int = 3) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn(*args)
        times.append(time.perf_counter() - t0)
    return min(times), result


def main() -> None:
    n_rows = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
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


if __name__ == "__main__":
    main()
