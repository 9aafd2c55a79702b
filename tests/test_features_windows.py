"""Feature windows relative to the edge: Mn K reproduced, every 3d metal covered."""

from __future__ import annotations

import pytest

from speciate.edges import tabulated_edge
from speciate.errors import ValidationError
from speciate.features import DEFAULT_WINDOWS, K_EDGE_OFFSETS, default_windows
from speciate.features.windows import THREE_D_METALS


def test_mn_k_windows_are_exactly_the_historic_ones():
    assert default_windows("Mn-K") == {
        "edge": (6535.0, 6570.0),
        "preedge": (6534.5, 6545.5),
        "white_line": (6545.0, 6580.0),
        "triplet": (6543.0, 6560.0),
    }
    assert dict(DEFAULT_WINDOWS) == default_windows("Mn-K")


@pytest.mark.parametrize("element", THREE_D_METALS)
def test_every_3d_metal_gets_windows_at_its_own_edge(element):
    e_tab = tabulated_edge(element, "K")
    windows = default_windows(f"{element}-K")
    for name, (lo, hi) in K_EDGE_OFFSETS.items():
        assert windows[name] == (e_tab + lo, e_tab + hi)
    assert windows["preedge"][0] < e_tab < windows["edge"][1]


def test_edges_without_defaults_say_what_to_do():
    with pytest.raises(ValidationError, match="give windows="):
        default_windows("Mn-L3")
    with pytest.raises(ValidationError, match="give windows="):
        default_windows("Mo-K")
