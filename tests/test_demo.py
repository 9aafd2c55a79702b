"""The demo pipeline, bundled datasets and the HTML report."""

from __future__ import annotations

import numpy as np
import pytest

from speciate import ValidationError
from speciate.datasets import MN_STANDARDS, mn_standards, synthetic_operando
from speciate.demo import run_demo
from speciate.io import read


def test_bundled_standards_equal_the_shared_originals(mn_groups):
    for std, series in zip(MN_STANDARDS, mn_standards(), strict=True):
        original = np.loadtxt(mn_groups / std.file)
        np.testing.assert_allclose(series.mu[0], original[np.argsort(original[:, 1]), 2])
        assert series.coords["valence"][0] == pytest.approx(std.valence)
    with pytest.raises(ValidationError, match="unknown bundled standard"):
        mn_standards(["unobtainium"])


def test_synthetic_operando_truth_is_consistent():
    series, truth = synthetic_operando(12, seed=4)
    assert series.mu.shape[0] == 12 and series.reference is not None
    np.testing.assert_allclose(truth["weights"].sum(axis=1), 1.0)
    assert (truth["weights"] >= 0).all()
    assert np.abs(truth["drift"]).max() <= 0.3
    # Mn4+ share rises then falls back over the cycle
    assert truth["valence"][6] > truth["valence"][0] + 0.4
    assert truth["valence"][-1] == pytest.approx(truth["valence"][0], abs=1e-9)


def test_synthetic_pipeline_writes_report_and_recovers_drift(tmp_path):
    out = tmp_path / "demo"
    result = run_demo(out, n_spectra=20)
    names = ("report.html", "standards.png", "alignment.png", "operando_normalized.nc")
    names += ("lcf.png", "lcf_weights.csv", "lcf.nc", "features.csv", "features_stacks.png")
    names += ("state_of_charge.csv", "state_of_charge.png", "eels_valence.png")
    for name in names:
        assert (out / name).stat().st_size > 1000, name
    html = (out / "report.html").read_text()
    assert "provenance" in html and "data:image/png;base64" in html
    back = read(out / "operando_normalized.nc")
    assert back.n_spectra == 20
    assert "e0" in back.coords

    def metric(name: str) -> float:
        return result.metrics[name]

    assert metric("alignment_rms_error_ev") < 0.05
    # LCF recovers the known fractions and leaves the absent Mn3O4 out
    assert metric("lcf_weight_mae") < 0.02
    assert metric("lcf_max_absent_weight") < 0.05
    assert metric("valence_vs_truth_correlation") > 0.99
    assert metric("valence_reversibility") == pytest.approx(1.0, abs=0.1)
    assert metric("spectra_inside_cycling") == 20
    # MLLS recovers the shell/core valence pattern of the synthetic spectrum image
    assert abs(metric("eels_valence_mean_error")) < 0.05
