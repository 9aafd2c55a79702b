"""Helpers shared by the study report's sections: names, numbers, state of charge."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = ["COLORMAP", "corr", "fmt", "slug", "state_of_charge"]

COLORMAP = "plasma"


def slug(name: str) -> str:
    from speciate.study.api import slug as study_slug

    return study_slug(name)


def fmt(x: float, nd: int = 3) -> str:
    return "n/a" if x is None or not np.isfinite(x) else f"{x:.{nd}f}"


def corr(a: Any, b: Any) -> float:
    a, b = np.asarray(a, float), np.asarray(b, float)
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 3 or np.std(a[ok]) == 0 or np.std(b[ok]) == 0:
        return float("nan")
    return float(np.corrcoef(a[ok], b[ok])[0, 1])


def state_of_charge(
    spec: Mapping[str, Any], inputs: Mapping[str, Any]
) -> tuple[np.ndarray | None, str, np.ndarray | None, Any]:
    """(state of charge per spectrum, how it was obtained, voltage or None, sync table)."""
    name = spec["name"]
    norm = inputs[f"spectra:{name}"]["norm"]
    how = spec.get("state_of_charge", "echem")
    sync = inputs.get(f"sync:{name}")
    if how == "echem" and sync is not None:
        t = sync["table"]
        return (
            np.asarray(t.state_of_charge, float),
            "cycler record (sync)",
            np.asarray(t.voltage, float),
            t,
        )
    if how not in ("echem", "none") and how in norm.coords:
        return np.asarray(norm.coords[how], float), f"coordinate '{how}' of the data", None, None
    return None, "none", None, None


# --- (a) electrochemistry --------------------------------------------------------------
