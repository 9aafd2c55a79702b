"""Build the default Mn K-edge valence calibration from the Mn oxide standards.

The standards are the plain-text exports of the Athena project ``Mn.prj`` of the
xraylarch examples (MIT): columns energy_raw, energy_shifted, mu; the shifted energies
(aligned in Athena on the Mn foil) are used, sorted by energy. Each standard is
normalized with `speciate.xanes.normalize` defaults, its edge position measured with
`speciate.features.edge_positions` defaults, and the calibration fitted with
`speciate.features.valence_calibration`.

Regenerate the shipped file with::

    python -m speciate.features.mn_standards PATH/TO/Mn_groups [-o OUT.json]

(default output: ``speciate/features/data/mn_k_valence_calibration.json``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from speciate.errors import ReadError
from speciate.features.edge import edge_positions
from speciate.features.valence import ValenceCalibration, leave_one_out, valence_calibration
from speciate.provenance import records_provenance
from speciate.series import Series
from speciate.xanes.normalize import NormResult, normalize

__all__ = [
    "FOIL",
    "MN_OXIDE_STANDARDS",
    "build_mn_calibration",
    "edge_table",
    "load_standard",
    "loo_table",
]

#: (file, formal Mn oxidation state) of the calibration standards.
MN_OXIDE_STANDARDS: tuple[tuple[str, float], ...] = (
    ("02_MnO.dat", 2.0),
    ("14_Mn3O4.dat", 8.0 / 3.0),
    ("04_Mn2O3x.dat", 3.0),
    ("09_g-MnOOH.dat", 3.0),
    ("11_Pyrolusite.dat", 4.0),
    ("12_Ramsdellite.dat", 4.0),
    ("05_Li2MnO3.dat", 4.0),
)
#: The Mn foil: only the energy reference (its ``e0``), never a calibration point.
FOIL = "01_Mn_foil.dat"

#: Edge definition and calibration kind of the shipped default, chosen by the lowest
#: RMS leave-one-out error over all definitions and kinds; within 0.01 e of the best,
#: the linear line wins over the monotonic one (fewer parameters, a real stderr).
#: See the table in docs/features.md.
DEFAULT_EDGE = "e_integral"
DEFAULT_KIND = "linear"


def load_standard(path: str | Path) -> NormResult:
    """Read one exported group file and normalize it (speciate defaults)."""
    path = Path(path)
    try:
        data = np.loadtxt(path, comments="#", ndmin=2)
    except (OSError, ValueError) as exc:
        raise ReadError(f"expected columns energy_raw, energy_shifted, mu: {exc}", path) from exc
    if data.shape[1] < 3:
        raise ReadError(f"expected at least 3 columns; found {data.shape[1]}", path)
    order = np.argsort(data[:, 1], kind="stable")
    series = Series(data[order, 1], data[order, 2], labels=[path.stem])
    return normalize(series, pre=(-200, -30), post=(50, None))  # the calibration's ranges


def edge_table(folder: str | Path) -> dict[str, dict[str, float]]:
    """Edge positions of every standard and of the foil: ``{label: {definition: eV}}``."""
    folder = Path(folder)
    out = {}
    for name, valence in (*MN_OXIDE_STANDARDS, (FOIL, 0.0)):
        feats = edge_positions(load_standard(folder / name))
        out[Path(name).stem] = {
            "valence": valence,
            "e0": float(feats.e0[0]),
            "e_half": float(feats.e_half[0]),
            "e_integral": float(feats.e_integral[0]),
        }
    return out


def loo_table(folder: str | Path) -> dict[tuple[str, str], np.ndarray]:
    """Leave-one-out errors for every edge definition × calibration kind."""
    table = edge_table(folder)
    stds = [Path(n).stem for n, _ in MN_OXIDE_STANDARDS]
    v = np.array([table[s]["valence"] for s in stds])
    return {
        (edge, kind): leave_one_out([table[s][edge] for s in stds], v, kind)
        for edge in ("e0", "e_half", "e_integral")
        for kind in ("linear", "monotonic")
    }


@records_provenance(name="speciate.features.mn_standards.build_mn_calibration")
def build_mn_calibration(
    folder: str | Path, definition: str = DEFAULT_EDGE, kind: str = DEFAULT_KIND
) -> ValenceCalibration:
    """The Mn K-edge calibration from the standards in ``folder`` (see module docstring)."""
    table = edge_table(folder)
    stds = [Path(n).stem for n, _ in MN_OXIDE_STANDARDS]
    return valence_calibration(
        [table[s][definition] for s in stds],
        [table[s]["valence"] for s in stds],
        kind=kind,
        definition=definition,
        edge="Mn-K",
        labels=stds,
        energy_reference=table[Path(FOIL).stem]["e0"],
        meta={
            "source": "xraypy/xraylarch examples/xafsdata/AthenaProjectFiles/Mn.prj (MIT)",
            "energy_column": "energy_shifted",
            "normalization": "speciate.xanes.normalize defaults",
            "edge_options": "speciate.features.edge_positions defaults",
            "energy_reference_standard": Path(FOIL).stem,
        },
    )


def main(argv: list[str] | None = None) -> int:
    """Command-line entry: write the calibration JSON and print the leave-one-out table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", help="folder holding the exported Mn.prj groups")
    default_out = Path(__file__).parent / "data" / "mn_k_valence_calibration.json"
    parser.add_argument("-o", "--output", default=str(default_out))
    args = parser.parse_args(argv)
    for (edge, kind), errs in loo_table(args.folder).items():
        rms = float(np.sqrt(np.mean(errs**2)))
        print(f"{edge:11s} {kind:9s} RMS {rms:.3f}  max {np.abs(errs).max():.3f}")
    cal = build_mn_calibration(args.folder)
    cal.to_json(args.output)
    print(f"wrote {args.output}: {cal!r}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
