"""`read`: cycler file(s) -> one `Cycling`, mapped onto speciate's columns and sign convention."""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Collection, Mapping, Sequence
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from speciate.echem.cycles import segment_current
from speciate.echem.cycling import Cycling
from speciate.echem.formats import FORMATS, RawTable, sniff
from speciate.errors import ReadError, ValidationError

__all__ = ["column_maps", "read"]

_REPAIRS = ("drop_incomplete_rows", "sort_time")


@cache
def _maps() -> dict[str, Any]:
    text = resources.files("speciate.echem").joinpath("columns.json").read_text("utf-8")
    return json.loads(text)


def column_maps() -> dict[str, Any]:
    """The vendor column maps (a copy of ``columns.json``)."""
    return json.loads(json.dumps(_maps()))


_MAP_KEYS = (
    "time_s",
    "voltage_v",
    "current_ma",
    "charge_capacity",
    "discharge_capacity",
    "capacity",
    "cycle",
    "half_cycle",
    "step",
    "state",
)


def _spec(fmt: str, overrides: Mapping[str, Any] | None) -> dict[str, Any]:
    spec = column_maps()[fmt]
    unknown = set(overrides or {}) - set(_MAP_KEYS)
    if unknown:
        raise ValidationError(f"columns keys must be among {_MAP_KEYS}; got {sorted(unknown)}")
    for key, value in (overrides or {}).items():
        if isinstance(value, str):
            value = {"names": [value], "scale": 1.0}
        elif isinstance(value, Mapping):
            value = {"names": [value["name"]], "scale": float(value.get("scale", 1.0))}
        else:
            raise ValidationError(
                f"columns[{key!r}] must be a column name or {{'name': ..., 'scale': ...}}; "
                f"got {value!r}"
            )
        spec["columns"][key] = value
    return spec


def _pick(table: pd.DataFrame, spec: dict[str, Any], key: str) -> tuple[str | None, float]:
    entry = spec["columns"].get(key)
    if not entry:
        return None, 1.0
    for name in entry["names"]:
        if name in table.columns:
            # one map entry can list spellings in different units (Amps, mAmps)
            return name, float(entry.get("scales", {}).get(name, entry.get("scale", 1.0)))
    return None, 1.0


def _floats(table: pd.DataFrame, name: str, scale: float, raw: RawTable, path: Path) -> np.ndarray:
    values = pd.to_numeric(table[name], errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(values)
    if bad.any():
        row = int(np.argmax(bad))
        line = None if raw.first_data_line is None else raw.first_data_line + row
        raise ReadError(
            f"column {name!r} must hold finite numbers; found {table[name].iloc[row]!r}", path, line
        )
    return values * scale


def _ints(table: pd.DataFrame, name: str, raw: RawTable, path: Path) -> np.ndarray:
    values = _floats(table, name, 1.0, raw, path)
    if not np.all(values == np.round(values)):
        row = int(np.argmax(values != np.round(values)))
        line = None if raw.first_data_line is None else raw.first_data_line + row
        raise ReadError(f"column {name!r} must hold whole numbers; found {values[row]}", path, line)
    return values.astype(np.int64)


def _current(table, spec, raw, path, meta) -> np.ndarray | None:
    name, scale = _pick(table, spec, "current_ma")
    if name is not None:
        return _floats(table, name, scale, raw, path)
    dq_name, dq_scale = _pick(table, spec, "dq")
    t_name, _ = _pick(table, spec, "time_s")
    if dq_name is None or t_name is None:
        return None
    # no current column: the cycler's charge per interval over the interval's length
    dq = _floats(table, dq_name, dq_scale, raw, path)
    t = _floats(table, t_name, 1.0, raw, path)
    current = np.zeros_like(dq)
    dt = np.diff(t)
    current[1:] = np.divide(dq[1:] * 3600.0, dt, out=np.zeros_like(dt), where=dt > 0)
    meta.setdefault("derived", []).append(
        f"current_ma = {dq_name} * 3600 / dt (no current column in the file)"
    )
    return current


def _states(table, spec) -> np.ndarray | None:
    name, _ = _pick(table, spec, "state")
    if name is None:
        return None
    states = table[name].astype(str).str.strip().to_numpy()
    mapping = spec.get("states")
    if not mapping:
        return states
    return pd.Series(states).map(mapping).fillna("other").to_numpy(dtype=str)


def _apply_state_sign(current, states, raw, path, meta) -> np.ndarray:
    charge = states == "charge"
    discharge = states == "discharge"
    wrong = (charge & (current < 0)) | (discharge & (current > 0))
    if not wrong.any():
        return current
    if (current >= 0).all():
        meta["sign_convention_applied"] = "unsigned current; sign taken from the State column"
        return np.where(discharge, -current, current)
    row = int(np.argmax(wrong))
    line = None if raw.first_data_line is None else raw.first_data_line + row
    raise ReadError(
        f"current sign disagrees with the state column: state {states[row]!r} with current "
        f"{current[row]:.6g} mA; expected > 0 on charge and < 0 on discharge (pass "
        "invert_current=True only if the whole file uses the opposite convention)",
        path,
        line,
    )


def _capacities(table, spec, states, current, raw, path, meta, n) -> tuple[np.ndarray, np.ndarray]:
    mode = spec["capacity"]
    nan = np.full(n, np.nan)
    if mode == "two_columns":
        c_name, c_scale = _pick(table, spec, "charge_capacity")
        d_name, d_scale = _pick(table, spec, "discharge_capacity")
        charge = nan if c_name is None else _floats(table, c_name, c_scale, raw, path)
        discharge = nan if d_name is None else _floats(table, d_name, d_scale, raw, path)
        return np.abs(charge), np.abs(discharge)
    name, scale = _pick(table, spec, "capacity")
    if name is None:
        meta["cycler_capacity"] = "absent"
        return nan, nan
    q = _floats(table, name, scale, raw, path)
    if mode == "signed_one_column":
        return np.clip(q, 0, None), np.clip(-q, 0, None)
    if mode == "current_sign_one_column":
        q = np.abs(q)
        return np.where(current > 0, q, 0.0), np.where(current < 0, q, 0.0)
    if states is None:
        raise ReadError(
            f"column {name!r} needs a state column to tell charge from discharge; none found", path
        )
    q = np.abs(q)
    return np.where(states == "charge", q, 0.0), np.where(states == "discharge", q, 0.0)


def _step_type(current, table, spec) -> np.ndarray:
    thr = 1e-3 * float(np.abs(current).max()) if current.size else 0.0
    kind = np.where(current > thr, "charge", np.where(current < -thr, "discharge", "rest"))
    kind = kind.astype("<U12")
    cv = np.zeros(current.size, dtype=bool)
    mode_name, _ = _pick(table, spec, "mode")
    if mode_name is not None and spec.get("cv_modes"):
        cv |= np.isin(table[mode_name].to_numpy(), spec["cv_modes"])
    state_name, _ = _pick(table, spec, "state")
    if state_name is not None and spec.get("cv_states"):
        cv |= np.isin(table[state_name].astype(str).to_numpy(), spec["cv_states"])
    kind[cv & (kind == "charge")] = "cv_charge"
    kind[cv & (kind == "discharge")] = "cv_discharge"
    return kind


def _check_sign(current: np.ndarray, voltage: np.ndarray, time_s: np.ndarray, path: Path) -> None:
    """Charging raises a cell's voltage: most half-cycles must move the voltage their way."""
    seg = segment_current(current, time_s)
    active = np.abs(current) > seg.rest_current_ma
    idx = np.nonzero(active)[0]
    if idx.size < 2:
        return
    hc = seg.half_cycle[idx] - 1
    n = seg.n_half_cycles
    first = np.full(n, -1)
    last = np.full(n, -1)
    np.maximum.at(last, hc, idx)
    first[hc[::-1]] = idx[::-1]
    ok = first >= 0
    dv = np.where(ok, voltage[last] - voltage[first], 0.0)
    clear = ok & (np.abs(dv) > 0.005) & (seg.direction != 0)
    agree = int((np.sign(dv[clear]) == seg.direction[clear]).sum())
    against = int(clear.sum()) - agree
    if against > agree:
        raise ReadError(
            f"the current sign looks inverted: in {against} of {int(clear.sum())} half-cycles "
            "the voltage moves against the current (expected: positive current raises the "
            "voltage). Pass invert_current=True if the file uses the opposite convention, or "
            "check_sign=False to keep it as read",
            path,
        )


def _normalize(
    raw: RawTable,
    path: Path,
    columns: Mapping[str, Any] | None,
    invert_current: bool,
    repair: frozenset[str],
    check_sign: bool = True,
) -> Cycling:
    spec = _spec(raw.format, columns)
    table = raw.table
    meta: dict[str, Any] = {"vendor": raw.format, **raw.meta}
    missing = [k for k in ("time_s", "voltage_v") if _pick(table, spec, k)[0] is None]
    current = _current(table, spec, raw, path, meta)
    if current is None:
        missing.append("current_ma")
    if missing:
        wanted = {k: spec["columns"].get(k, {}).get("names", []) for k in missing}
        raise ReadError(
            f"no column for {missing} (looked for {wanted}); the file has {list(table.columns)}. "
            "Pass columns={'time_s': ..., 'voltage_v': ..., 'current_ma': ...} to map them",
            path,
        )
    time_s = _floats(table, *_pick(table, spec, "time_s"), raw, path)
    voltage = _floats(table, *_pick(table, spec, "voltage_v"), raw, path)
    back = np.diff(time_s) < 0
    order = None
    if back.any():
        row = int(np.argmax(back)) + 1
        if "sort_time" not in repair:
            line = None if raw.first_data_line is None else raw.first_data_line + row
            raise ReadError(
                f"time goes backwards ({time_s[row - 1]:.6g} s -> {time_s[row]:.6g} s); pass "
                "repair=['sort_time'] to sort the rows by time",
                path,
                line,
            )
        order = np.argsort(time_s, kind="stable")
        meta.setdefault("repairs", []).append(
            f"sorted rows by time ({int(back.sum())} backward step(s))"
        )
    states = _states(table, spec)
    if states is not None and spec.get("current") == "signed_or_state":
        current = _apply_state_sign(current, states, raw, path, meta)
    if invert_current:
        current = -current
        meta["current_inverted"] = True
    meta["sign_convention"] = spec["sign_convention"] + (
        "; current inverted on request" if invert_current else ""
    )
    n = time_s.size
    charge, discharge = _capacities(table, spec, states, current, raw, path, meta, n)
    step_name, _ = _pick(table, spec, "step")
    step = _ints(table, step_name, raw, path) if step_name else np.full(n, -1)
    seg = segment_current(current, time_s)
    cyc_name, _ = _pick(table, spec, "cycle")
    half_name, _ = _pick(table, spec, "half_cycle")
    cycle = _ints(table, cyc_name, raw, path) if cyc_name else seg.cycle
    half = _ints(table, half_name, raw, path) if half_name else seg.half_cycle
    meta["cycle_source"] = "file" if cyc_name else "speciate"
    meta["half_cycle_source"] = "file" if half_name else "speciate"
    cols = {
        "time_s": time_s,
        "voltage_v": voltage,
        "current_ma": current,
        "charge_capacity_mah": charge,
        "discharge_capacity_mah": discharge,
        "cycle": cycle,
        "half_cycle": half,
        "step": step,
        "step_type": _step_type(current, table, spec),
    }
    if order is not None:
        cols = {k: v[order] for k, v in cols.items()}
    if check_sign:
        _check_sign(cols["current_ma"], cols["voltage_v"], cols["time_s"], path)
    meta["sign_checked"] = bool(check_sign)
    return Cycling(cols, start_time=raw.start_time, source=(str(path),), meta=meta)


def _read_one(path: Path, fmt: str | None, columns, invert_current, repair, check_sign) -> Cycling:
    if not path.is_file():
        raise ReadError("no such file", path)
    name = fmt or sniff(path)
    if name not in FORMATS:
        raise ValidationError(f"format must be one of {sorted(FORMATS)}; got {fmt!r}")
    raw = FORMATS[name](path, repair)
    return _normalize(raw, path, columns, invert_current, repair, check_sign)


def _join(parts: list[Cycling], join: str) -> Cycling:
    have_start = all(p.start_time is not None for p in parts)
    if join == "time" and not have_start:
        names = [p.source[0] for p in parts if p.start_time is None]
        raise ReadError(
            f"cannot order files in time: no acquisition start in {names}; pass "
            "join='sequential' to append them in the order given"
        )
    if join == "time":
        parts = sorted(parts, key=lambda p: p.start_time)
    offsets = [0.0]
    for prev, nxt in itertools.pairwise(parts):
        end = offsets[-1] + float(prev.time_s[-1])
        if join == "time":
            off = float((nxt.start_time - parts[0].start_time) / np.timedelta64(1, "s"))
            if off + float(nxt.time_s[0]) < end - 1e-3:
                raise ReadError(
                    f"{nxt.source[0]} starts {end - off - float(nxt.time_s[0]):.3f} s before "
                    f"{prev.source[0]} ends: the records overlap in time"
                )
        else:
            off = end - float(nxt.time_s[0])
        offsets.append(off)
    cols = {k: np.concatenate([p.columns[k] for p in parts]) for k in parts[0].columns}
    cols["time_s"] = np.concatenate([p.time_s + off for p, off in zip(parts, offsets)])
    seg = segment_current(cols["current_ma"], cols["time_s"])
    cols["cycle"], cols["half_cycle"] = seg.cycle, seg.half_cycle
    meta = dict(parts[0].meta)
    meta.update(
        cycle_source="speciate (files joined)",
        half_cycle_source="speciate (files joined)",
        joined={"mode": join, "offsets_s": offsets},
    )
    return Cycling(
        cols, start_time=parts[0].start_time, source=tuple(p.source[0] for p in parts), meta=meta
    )


def read(
    path_or_paths: str | os.PathLike | Sequence[str | os.PathLike],
    *,
    format: str | None = None,
    columns: Mapping[str, Any] | None = None,
    invert_current: bool = False,
    repair: Collection[str] = (),
    join: str = "time",
    check_sign: bool = True,
) -> Cycling:
    """Read cycler file(s) of one cell into a `Cycling`.

    Parameters
    ----------
    path_or_paths
        One file, or several files of the same cell (joined in time order).
    format
        Force an adapter (``"biologic_mpr"``, ``"biologic_mpt"``, ``"neware"``,
        ``"arbin_res"``, ``"arbin_xlsx"``, ``"maccor"``, ``"pec"``, ``"novonix"``,
        ``"csv"``); default: sniffed from the content.
    columns
        Column map overrides, e.g. ``{"time_s": "t", "current_ma": {"name": "I/A",
        "scale": 1000}}``; needed for plain CSV/TSV. Keys: ``time_s``, ``voltage_v``,
        ``current_ma``, ``charge_capacity``, ``discharge_capacity`` (or one signed
        ``capacity``), ``cycle``, ``half_cycle``, ``step``, ``state``; ``scale`` converts
        to s, V, mA, mAh.
    invert_current
        Flip the current sign, for files whose working electrode is the negative electrode
        of the cathode under study. Recorded in ``meta``.
    repair
        Explicit repairs: ``"drop_incomplete_rows"`` (a truncated last line),
        ``"sort_time"`` (rows out of time order). Each one applied is listed in
        ``meta["repairs"]``; without them these problems raise `ReadError`.
    join
        ``"time"``: order several files by their acquisition start and keep their clocks;
        ``"sequential"``: append them in the given order (for files without a start time).
    check_sign
        Check that positive current raises the voltage in most half-cycles (> 5 mV moves);
        a record that fails raises `ReadError` suggesting ``invert_current``.

    Returns
    -------
    Cycling

    Raises
    ------
    ReadError
        Unknown format, missing columns, truncated files, time going backwards, current
        signs that disagree with the file's state column or with the voltage, overlapping
        files.
    """
    bad = set(repair) - set(_REPAIRS)
    if bad:
        raise ValidationError(f"repair takes {_REPAIRS}; got {sorted(bad)}")
    if join not in ("time", "sequential"):
        raise ValidationError(f"join must be 'time' or 'sequential'; got {join!r}")
    many = not isinstance(path_or_paths, (str, os.PathLike))
    paths = [Path(p) for p in (path_or_paths if many else [path_or_paths])]
    if not paths:
        raise ValidationError("read() needs at least one file; got an empty list")
    fixes = frozenset(repair)
    parts = [_read_one(p, format, columns, invert_current, fixes, check_sign) for p in paths]
    return parts[0] if len(parts) == 1 else _join(parts, join)
