"""Benchmarks are a gate: a missed target or a failed agreement check exits non-zero."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"
SRC = Path(__file__).resolve().parents[1] / "src"


def _checks_module():
    spec = importlib.util.spec_from_file_location("bench_checks", BENCH / "_checks.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being built
    spec.loader.exec_module(module)
    return module


def test_checks_fail_on_a_missed_target_or_a_disagreement(monkeypatch, capsys):
    monkeypatch.delenv("SPECIATE_BENCH_TARGET_SCALE", raising=False)
    checks = _checks_module().Checks("demo")
    assert checks.target("time", 0.5, 1.0, "s")
    assert checks.agree("difference", -1e-10, 1e-9)
    assert checks.at_least("share", 0.99, 0.95)
    assert checks.exit_code == 0
    assert not checks.agree("difference", float("nan"), 1e-9)
    assert not checks.target("time", 2.0, 1.0, "s")
    assert checks.exit_code == 1
    err = capsys.readouterr().err
    assert "2 check(s) FAILED" in err and "target time" in err


def test_scale_makes_targets_stricter_but_not_agreement(monkeypatch):
    monkeypatch.setenv("SPECIATE_BENCH_TARGET_SCALE", "0.5")
    checks = _checks_module().Checks("demo")
    assert not checks.target("time", 0.6, 1.0, "s")
    assert checks.agree("difference", 0.9, 1.0)


def test_a_benchmark_with_an_impossible_target_exits_non_zero():
    env = dict(os.environ)
    env["SPECIATE_BENCH_TARGET_SCALE"] = "1e-12"
    env["PYTHONPATH"] = os.pathsep.join([str(SRC), env.get("PYTHONPATH", "")])
    env.setdefault("MPLBACKEND", "Agg")
    run = subprocess.run(
        [sys.executable, str(BENCH / "bench_normalize.py")],
        capture_output=True, text=True, env=env, timeout=600,
    )  # fmt: skip
    assert run.returncode == 1, run.stdout + run.stderr
    assert "FAILED" in run.stdout and "target normalize time per spectrum" in run.stderr
    # the agreement check still ran and passed: only the impossible target failed
    assert "[ok] agreement max |Δnorm|" in run.stdout


@pytest.mark.parametrize("script", sorted(p.name for p in BENCH.glob("bench_*.py")))
def test_every_benchmark_reports_its_checks_through_the_exit_code(script):
    text = (BENCH / script).read_text()
    assert "from _checks import Checks" in text
    assert "sys.exit(main(" in text
