"""Argument checks shared by the echem analyses (capacity, curves, dQ/dV, sync)."""

from __future__ import annotations

import numpy as np

from speciate.errors import ValidationError

__all__ = ["check_mass"]


def check_mass(mass_mg: float | None) -> float | None:
    """The active mass in mg as a float, or None when not given.

    Raises
    ------
    ValidationError
        If the mass is not a positive finite number.
    """
    if mass_mg is None:
        return None
    mass = float(mass_mg)
    if not np.isfinite(mass) or mass <= 0:
        raise ValidationError(f"mass_mg (active mass, mg) must be a positive number; got {mass_mg}")
    return mass
