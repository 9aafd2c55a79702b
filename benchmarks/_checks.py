"""Targets and agreement checks shared by the benchmark scripts: a miss fails the run.

Each benchmark records its speed targets (`Checks.target`) and the agreement of its numbers
with the reference implementation or the truth (`Checks.agree`, `Checks.require`), prints
one line per check, and exits with `Checks.exit_code` (1 when anything failed), so
``make bench`` stops at the first benchmark that misses.

``SPECIATE_BENCH_TARGET_SCALE`` multiplies every speed limit (``0.5`` asks for twice the
speed; a tiny value makes every target impossible, which the tests use to see the gate
close). Agreement tolerances are not scaled: they are about correctness, not load.
"""

from __future__ import annotations

import math
import os
import sys
from dataclasses import dataclass, field

SCALE_VARIABLE = "SPECIATE_BENCH_TARGET_SCALE"


def _scale() -> float:
    text = os.environ.get(SCALE_VARIABLE, "1")
    try:
        scale = float(text)
    except ValueError:
        raise SystemExit(f"{SCALE_VARIABLE} must be a positive number; got {text!r}") from None
    if not scale > 0:
        raise SystemExit(f"{SCALE_VARIABLE} must be a positive number; got {text!r}")
    return scale


@dataclass
class Checks:
    """The checks of one benchmark run, printed as they are made."""

    name: str
    failures: list[str] = field(default_factory=list)
    scale: float = field(default_factory=_scale)

    def _record(self, ok: bool, line: str) -> bool:
        print(f"  [{'ok' if ok else 'FAILED'}] {line}")
        if not ok:
            self.failures.append(line)
        return ok

    def target(self, what: str, value: float, limit: float, unit: str = "") -> bool:
        """A cost (time, memory) that must be at most ``limit`` (times the scale)."""
        bound = limit * self.scale
        ok = math.isfinite(value) and value <= bound
        return self._record(ok, f"target {what}: {value:.4g} {unit} <= {bound:.4g} {unit}")

    def agree(self, what: str, value: float, tolerance: float, unit: str = "") -> bool:
        """A difference (to the reference or the truth) that must be at most ``tolerance``."""
        ok = math.isfinite(value) and abs(value) <= tolerance
        return self._record(ok, f"agreement {what}: {value:.3g} {unit} (tolerance {tolerance:g})")

    def at_least(self, what: str, value: float, minimum: float, unit: str = "") -> bool:
        """A share or score that must be at least ``minimum`` (hit rates, speed-ups)."""
        ok = math.isfinite(value) and value >= minimum
        return self._record(ok, f"agreement {what}: {value:.4g} {unit} (at least {minimum:g})")

    def require(self, what: str, ok: bool) -> bool:
        """A yes/no condition (same peaks reported, a run finished...)."""
        return self._record(bool(ok), what)

    @property
    def exit_code(self) -> int:
        """0 when every check passed, else 1 (after listing what failed)."""
        if self.failures:
            print(f"{self.name}: {len(self.failures)} check(s) FAILED:", file=sys.stderr)
            for line in self.failures:
                print(f"  {line}", file=sys.stderr)
            return 1
        print(f"{self.name}: all checks passed")
        return 0
