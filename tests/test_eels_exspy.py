"""Same coefficients as exspy/hyperspy's own linear fit of the same image.

exspy model: a `PowerLaw` background plus one `ScalableFixedPattern` (interpolate=False) per
reference, fitted with ``multifit(optimizer="lstsq")``. No GOS-based edge component is used
(those download cross-section data), so this runs offline. The power-law exponent is a
nonlinear parameter that a linear fit cannot move: it is set, per pixel, to the value of
speciate's pre-edge fit, and both programs then solve the same linear problem.
"""

from __future__ import annotations

import importlib.util
import warnings
from pathlib import Path

import numpy as np
import pytest

from speciate.eels import SpectrumImage, mlls, read
from speciate.eels.synthetic import mn_references

WINDOW = (635.0, 665.0)
PRE_EDGE = (600.0, 634.0)


@pytest.fixture(scope="module")
def hs():
    if importlib.util.find_spec("exspy") is None:
        pytest.skip("exspy (test-only dependency) is not installed")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import exspy  # noqa: F401  registers the EELS signal type
        import hyperspy.api as hs
    return hs


@pytest.fixture(scope="module")
def image():
    root = Path(importlib.util.find_spec("exspy").origin).parent / "tests" / "components"
    cl = read(root / "coreloss_spectrum.msa").window(590.0, 680.0)
    e = cl.energy
    y = cl.data[0, 0]
    pre = (e >= 600) & (e < 640)
    slope, icpt = np.polyfit(np.log(e[pre]), np.log(y[pre]), 1)
    # the measured background below 642 eV, its power-law continuation above
    # (the spectrum's own Mn edge is replaced by model edges of known weight)
    bg = np.where(e < 642, y, np.exp(icpt + slope * np.log(e)))
    refs = mn_references(e, valences=(2, 4))
    rng = np.random.default_rng(0)
    weights = rng.uniform(2000, 8000, (4, 5, 2))
    thickness = rng.uniform(0.4, 0.6, (4, 5, 1))
    counts = rng.poisson(thickness * bg + weights @ refs.mu).astype(float)
    return SpectrumImage(counts, e), refs


def _exspy_model(hs, si, refs, window):
    w = si.channels(window)
    s = hs.signals.Signal1D(np.array(si.data[..., w]))
    s.set_signal_type("EELS")
    ax = s.axes_manager[-1]
    ax.offset, ax.scale, ax.units = float(si.energy[w][0]), si.dispersion, "eV"
    ax.is_binned = False  # compare counts per channel, as speciate does
    m = s.create_model(auto_background=False, auto_add_edges=False)
    bg = hs.model.components1D.PowerLaw()
    m.append(bg)
    comps = []
    for i, label in enumerate(refs.labels):
        pattern = hs.signals.Signal1D(np.array(refs.mu[i, w]))
        pattern.axes_manager[-1].offset = float(si.energy[w][0])
        pattern.axes_manager[-1].scale = si.dispersion
        comp = hs.model.components1D.ScalableFixedPattern(pattern, interpolate=False)
        comp.name = label.replace("+", "p")
        m.append(comp)
        comps.append(comp)
    return m, bg, comps


def _set_map(parameter, values):
    parameter.map["values"][:] = values
    parameter.map["is_set"][:] = True
    parameter.value = float(values.flat[0])
    parameter.free = False


def test_joint_background_matches_exspy_lstsq_within_1_percent(hs, image):
    si, refs = image
    ours = mlls(
        si, refs, WINDOW, background="power_law", background_window=PRE_EDGE, joint_background=True
    )
    m, bg, comps = _exspy_model(hs, si, refs, WINDOW)
    _set_map(bg.r, ours.background.exponent)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "iterating over navigation": r varies per pixel
        m.multifit(optimizer="lstsq", show_progressbar=False)
    theirs = np.stack([c.yscale.map["values"] for c in comps], axis=-1)
    np.testing.assert_allclose(ours.coefficients, theirs, rtol=0.01)
    amplitude = ours.background.amplitude * ours.background_scale
    np.testing.assert_allclose(bg.A.map["values"], amplitude, rtol=0.01)


def test_subtracted_background_matches_exspy_with_fixed_power_law(hs, image):
    si, refs = image
    ours = mlls(si, refs, WINDOW, background="power_law", background_window=PRE_EDGE)
    m, bg, comps = _exspy_model(hs, si, refs, WINDOW)
    _set_map(bg.r, ours.background.exponent)
    _set_map(bg.A, ours.background.amplitude)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m.multifit(optimizer="lstsq", show_progressbar=False)
    theirs = np.stack([c.yscale.map["values"] for c in comps], axis=-1)
    np.testing.assert_allclose(ours.coefficients, theirs, rtol=0.01)
