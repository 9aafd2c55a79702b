"""redox_table: per-element edge shift against state of charge, on synthetic multi-edge series."""

from __future__ import annotations

import numpy as np
import pytest

from speciate import Series
from speciate.edges import tabulated_edge
from speciate.errors import ValidationError
from speciate.features import redox_table

# per-element edge shift (eV per unit of x) of the synthetic study: Mn is a spectator
SHIFTS = {"Mn": 0.0, "Co": 0.6, "Ni": 2.5}


def _cycle_x(n: int = 21) -> np.ndarray:
    """x_li over one charge and discharge: 1 -> 0.3 -> 1."""
    half = np.linspace(1.0, 0.3, (n + 1) // 2)
    return np.concatenate([half, half[-2::-1]])


def _spectra(energy: np.ndarray, centre: np.ndarray) -> np.ndarray:
    """Arctan edge with a white line 6 eV above it, rigidly placed at ``centre`` (eV)."""
    d = energy[None, :] - centre[:, None]
    return 0.5 + np.arctan(d / 1.5) / np.pi + 0.4 * np.exp(-0.5 * ((d - 6.0) / 2.5) ** 2)


def _series(element: str, x: np.ndarray, shift: float, noise: float = 0.0, seed: int = 0):
    """Normalized K-edge spectra whose edge moves by ``shift`` eV per unit of x (down with x)."""
    e_tab = tabulated_edge(element, "K")
    energy = np.arange(e_tab - 60.0, e_tab + 120.0, 0.25)
    centre = e_tab + 8.0 - shift * (x - 1.0)  # delithiation (x falls) raises the edge
    mu = _spectra(energy, centre)
    mu = mu + np.random.default_rng(seed).normal(0.0, noise, mu.shape)
    return Series(energy, mu, coords={"x_li": x}, meta={"edge": f"{element}-K"})


def test_three_edges_recover_their_shifts_and_the_spectator_is_inactive():
    x = _cycle_x()
    norms = {f"{el}-K": _series(el, x, s, noise=0.002, seed=i) for i, (el, s) in
             enumerate(SHIFTS.items())}  # fmt: skip
    table = redox_table(norms)
    assert table.abscissa == "x_li" and table.unit == "x"
    # the edge rises as x falls: the slope against x is minus the shift
    np.testing.assert_allclose(-table.shift_per_unit, list(SHIFTS.values()), atol=0.05)
    assert table.active.tolist() == [False, True, True]
    assert np.isnan(table.reversibility[0])
    assert (table.reversibility[1:] > 0.9).all()
    df = table.to_dataframe()
    assert list(df.index) == ["Mn-K", "Co-K", "Ni-K"]
    assert table.provenance["function"] == "speciate.features.redox_table"
    fig = table.plot()
    assert len(fig.axes) == 3 and "inactive" in fig.axes[0].get_title()


def test_an_irreversible_element_does_not_come_back():
    x = _cycle_x()
    drift = np.linspace(0.0, 0.8, x.size)  # the edge ends 0.8 eV above where it began
    s = _series("Ni", x, 2.0)
    e_tab = tabulated_edge("Ni", "K")
    mu = _spectra(s.energy, e_tab + 8.0 - 2.0 * (x - 1.0) + drift)
    table = redox_table({"Ni-K": s.replace(mu=mu)}, state_of_charge="x_li")
    assert table.return_ev[0] == pytest.approx(0.8, abs=0.05)
    assert table.reversibility[0] < 0.8


def test_mislabelled_series_and_missing_abscissa_are_errors():
    x = _cycle_x()
    with pytest.raises(ValidationError, match="records the Ni-K edge"):
        redox_table({"Co-K": _series("Ni", x, 1.0)})
    bare = _series("Ni", x, 1.0).replace(coords={})
    with pytest.raises(ValidationError, match="no state of charge"):
        redox_table({"Ni-K": bare})
    table = redox_table({"Ni-K": bare}, state_of_charge=x)
    assert table.shift_per_unit[0] == pytest.approx(-1.0, abs=0.05)


def test_real_ni_operando_series_is_redox_active_on_charge(real_data):
    from speciate.echem import read as read_cycling
    from speciate.echem.sync import sync
    from speciate.io import read_many
    from speciate.xanes import normalize

    operando = real_data / "operando" / "perex_LNO_NiK"
    series = read_many(str(operando / "XAS_normalized" / "*.txt"))
    state = sync(series, read_cycling(operando / "EC" / "220726cell4operandoxas_C06.mpt"))
    norm = normalize(series.replace(coords={**series.coords, **state.as_coords()}))
    table = redox_table({"Ni-K": norm}, state_of_charge="state_of_charge")
    # LiNiO2 charge: Ni oxidizes, its edge rises by about 1 eV over the half-cycle
    assert table.active[0] and table.shift_per_unit[0] > 0.5
    assert 0.5 < table.total_shift_ev[0] < 3.0
