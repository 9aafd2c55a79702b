"""The commented study template written by ``speciate init``."""

from __future__ import annotations

__all__ = ["TEMPLATE", "template"]

TEMPLATE = """\
# speciate study file: describe the study once, then `speciate run study.toml`.
# Paths are relative to this file. Tables of options (reader, normalize, align, features,
# the rest of [[fit]], echem.dqdv, echem.sync) are passed to the library functions as
# keyword arguments, so any option those functions take can be written here.
# `speciate run --check study.toml` validates this file without running anything.

[study]
title = "{title}"
output = "study-output"          # results/, figures/, report.html, provenance.json

# One [[spectra]] table per series (one per absorption edge, or per experiment).
[[spectra]]
name = "operando"                # used by [[fit]] and [[standards]] below
files = "spectra/*.dat"          # a file, a glob, a folder or a list of them
edge = "Mn K"                    # element and edge; Mn K enables the Mn valence calibration
reader = {{}}                      # speciate.io.read_many options (energy, mu, format...)
align = false                    # or {{ target = 6539.0 }}: align on the reference (foil) channel
normalize = {{ pre = [-150, -30], post = [50, 300] }}   # speciate.xanes.normalize options
state_of_charge = "echem"        # "echem" (sync with [echem]), a coord name, or "none"
# features = {{ windows = {{ edge = [6535, 6570] }} }}   # speciate.features.extract options

# Standards: measured files, or a spectrum of a series (e.g. the pristine end member).
[[standards]]
name = "MnO2"
file = "standards/MnO2.dat"
valence = 4

[[standards]]
name = "Mn2O3"
file = "standards/Mn2O3.dat"
valence = 3

# Theory standards over cluster radius (optional). Give `precomputed` (a NetCDF written by
# speciate.theory.sweep) to skip the engine, or phases + radii to compute them.
# [theory]
# phases = ["LiMn2O4", "Li2MnO3"]
# radii = [2.0, 3.0, 4.0, 5.0, 6.0, 6.8]
# engine = "feff"
# options = {{}}                  # FeffOptions fields, e.g. {{ scf = 4.5 }}
# broadening = {{ fwhm = 1.0 }}     # Gaussian FWHM, eV
# shift = 7.26                    # eV, theory onto the experimental energy scale

# Fits: `components` are standard names; every other key goes to speciate.fit.lcf
# (e_range, shifts, bounds, sum_to_one, background...). A `scan` table fits each theory
# candidate in turn (speciate.fit.scan options; `candidates` = phase names).
[[fit]]
spectra = "operando"
components = ["MnO2", "Mn2O3"]
e_range = [-20, 60]
# scan = {{ candidates = ["LiMn2O4"] }}
# combinations = true

# Cycler files of the same cell (optional).
# [echem]
# files = ["echem/cell.mpt"]
# mass_mg = 7.5                   # active mass, mg (capacities in mAh/g)
# time_offset_s = 0.0             # cycler clock minus spectrum clock, s
# cycles = [1, 2]                 # cycles drawn in the voltage curves and dQ/dV
# dqdv = {{ smoothing_v = 0.01 }}

# EELS spectrum image (optional).
# [eels]
# image = "eels/core_loss.dm4"
# low_loss = "eels/low_loss.dm4"
# background = [600, 634]         # eV, power-law window before the Mn L3 edge
# regions = {{ shell = [0, 8, 0, 32] }}   # boxes y0, y1, x0, x1 (pixels)
"""


def template(title: str = "My operando study") -> str:
    """The commented study template, with ``title`` filled in."""
    return TEMPLATE.format(title=title)
