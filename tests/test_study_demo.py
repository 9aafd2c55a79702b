"""`speciate demo` on the bundled real data, stage caching, failure isolation, and the
report in a headless browser."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from speciate.cli import main
from speciate.io import read
from speciate.study import load_study, run_study

SECTIONS = ("echem", "operando", "theory", "speciation", "edges", "eels")
NI = "Ni K operando (LiNiO2, real)"


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("demo") / "demo-output"
    assert main(["demo", "--out", str(out)]) == 0
    return out


def _metrics(out: Path) -> dict:
    return json.loads((out / "results" / "metrics.json").read_text())


def test_demo_writes_results_figures_report_and_provenance(demo: Path):
    for name in ("report.html", "provenance.json", "study.toml"):
        assert (demo / name).stat().st_size > 1000, name
    results = {p.name for p in (demo / "results").iterdir()}
    for name in (
        "fractions_ni_k_end_members.csv",
        "fractions_ni_k_end_members.nc",
        "radius_spinel_radius_scan.csv",
        "features_ni_k_operando_linio2_real.csv",
        "sync_ni_k_operando_linio2_real.csv",
        "echem_summary.csv",
        "valence_map.nc",
        "theory_normalized.nc",
    ):
        assert name in results, name
    assert len(list((demo / "figures").glob("*.png"))) >= 8
    prov = json.loads((demo / "provenance.json").read_text())
    assert {s["status"] for s in prov["stages"]} == {"ran"}
    assert prov["engines"]["feff10-rs"]
    assert any(k.endswith(".mpt") for k in prov["inputs"])
    assert all(len(h) == 64 for h in prov["inputs"].values())
    # the fraction table round-trips and has one row per real spectrum
    fr = pd.read_csv(demo / "results" / "fractions_ni_k_end_members.csv")
    assert len(fr) == 20
    assert read(demo / "results" / "spectra_ni_k_operando_linio2_real.nc").n_spectra == 20


def test_demo_report_has_every_section_and_interactive_plot(demo: Path):
    html = (demo / "report.html").read_text()
    for key in SECTIONS:
        assert f"data-section='{key}'" in html, key
    assert html.count("<figcaption>") >= 14
    assert html.count("class='plot'") >= 6
    # self-contained: plotly.js inlined, no script or stylesheet fetched
    assert "<script src=" not in html and "<link" not in html
    assert "synthetic" in html.lower()


def test_real_operando_series_follows_the_state_of_charge(demo: Path):
    m = _metrics(demo)
    assert m["edge_vs_voltage_r"][NI] >= 0.95
    assert m["fraction_vs_voltage_r"]["Ni K end members:Ni K charged (last spectrum)"] >= 0.95
    sync = pd.read_csv(demo / "results" / "sync_ni_k_operando_linio2_real.csv")
    edge = pd.read_csv(demo / "results" / "edge_ni_k_operando_linio2_real.csv")
    charging = sync["direction"].to_numpy() > 0
    r = np.corrcoef(edge["e0_eV"].to_numpy()[charging], sync["voltage"].to_numpy()[charging])
    assert r[0, 1] >= 0.95
    assert 3.0 < m["edge_shift_ev"][NI] < 4.5  # Ni K edge moves ~3.5 eV on charge


def test_synthetic_spinel_growth_recovers_fraction_and_radius(demo: Path):
    syn = _metrics(demo)["synthetic"]["spinel radius scan"]
    assert syn["max_fraction_error"] <= 0.05
    assert syn["radius_hit_rate"] >= 0.9
    # LiMn2O4 and Li2MnO3 are both candidates: the growing phase is identified too
    assert syn["phase_hit_rate"] == 1.0
    table = pd.read_csv(demo / "results" / "radius_spinel_radius_scan.csv")
    assert set(table["best_phase"]) == {"LiMn2O4"}
    assert len(table) == 20


def test_editing_one_fit_option_reruns_only_fit_and_report(demo: Path, tmp_path: Path):
    work = tmp_path / "copy"
    shutil.copytree(demo, work)
    path = work / "study.toml"
    again = run_study(path)
    assert again.ran == ()
    assert again.engine_runs == 0
    text = path.read_text()
    assert "e_range = [-20, 60]" in text
    path.write_text(text.replace("e_range = [-20, 60]", "e_range = [-15, 55]"))
    edited = run_study(path)
    assert set(edited.ran) == {"fit:Ni K end members", "report"}
    assert edited.engine_runs == 0
    assert {r.status for r in edited.records if r.name not in edited.ran} == {"cached"}
    fr = pd.read_csv(work / "results" / "fractions_ni_k_end_members.csv")
    assert len(fr) == 20


def test_a_failing_stage_is_reported_and_the_others_still_run(demo: Path, tmp_path: Path):
    work = tmp_path / "broken"
    shutil.copytree(demo, work)
    mpt = work / "data" / "ni_k" / "EC" / "220726cell4operandoxas_C06.mpt"
    mpt.write_text("this is not a cycler file\n")
    result = run_study(load_study(work / "study.toml"))
    status = {r.name: r.status for r in result.records}
    assert status["echem"] == "failed"
    assert status[f"sync:{NI}"] == "skipped"
    assert status["fit:spinel radius scan"] == "cached"
    assert status["report"] == "ran"
    html = (work / "report.html").read_text()
    assert "Stage echem failed" in html
    for key in SECTIONS:
        assert f"data-section='{key}'" in html


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def test_report_opens_in_headless_chromium_without_errors(demo: Path, tmp_path: Path):
    exe = _chromium()
    if exe is None:
        pytest.skip("no chromium executable on PATH (Debian package 'chromium')")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright not installed")
    args = [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
    ]  # fmt: skip
    errors: list[str] = []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=exe, args=args)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        fetched: list[str] = []
        page.on("request", lambda r: fetched.append(r.url))
        page.goto((demo / "report.html").as_uri())
        page.wait_for_function(
            "document.querySelectorAll('div.plot').length > 0 && "
            "[...document.querySelectorAll('div.plot')].every(d => d.querySelector('.main-svg'))",
            timeout=30000,
        )
        n_plots = page.locator("div.plot").count()
        drawn = page.locator("div.plot .main-svg").first.count()
        images = page.evaluate(
            "[...document.querySelectorAll('figure.png img')]"
            ".map(i => i.complete && i.naturalWidth > 0)"
        )
        for key in SECTIONS:
            assert page.locator(f"section[data-section='{key}']").count() == 1, key
        # SPECIATE_REPORT_SCREENSHOT=docs/images/report.png refreshes the README's picture
        shot = Path(os.environ.get("SPECIATE_REPORT_SCREENSHOT", tmp_path / "report.png"))
        page.set_viewport_size({"width": 1280, "height": 1500})
        page.evaluate("document.getElementById('operando').scrollIntoView()")
        page.screenshot(path=str(shot), full_page=False)
        browser.close()
    assert errors == []
    assert [u for u in fetched if not u.startswith(("file:", "data:"))] == []
    assert n_plots >= 6 and drawn == 1
    assert len(images) >= 8 and all(images)
    assert shot.stat().st_size > 10_000
