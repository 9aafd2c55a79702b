"""Small real datasets bundled with speciate (licences in each folder's README)."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

__all__ = ["MN_STANDARDS", "MnStandard", "mn_standard_paths", "mn_standards"]


@dataclass(frozen=True)
class MnStandard:
    """One bundled Mn K-edge reference spectrum."""

    name: str
    file: str
    valence: float


MN_STANDARDS: tuple[MnStandard, ...] = (
    MnStandard("Mn foil", "01_Mn_foil.dat", 0.0),
    MnStandard("MnO", "02_MnO.dat", 2.0),
    MnStandard("Mn3O4", "14_Mn3O4.dat", 8.0 / 3.0),
    MnStandard("Mn2O3", "04_Mn2O3x.dat", 3.0),
    MnStandard("g-MnOOH", "09_g-MnOOH.dat", 3.0),
    MnStandard("Li2MnO3", "05_Li2MnO3.dat", 4.0),
    MnStandard("MnO2 pyrolusite", "11_Pyrolusite.dat", 4.0),
    MnStandard("MnO2 ramsdellite", "12_Ramsdellite.dat", 4.0),
)


def _folder() -> Path:
    return Path(str(resources.files("speciate") / "data" / "mn_standards"))


def mn_standard_paths() -> dict[str, Path]:
    """Paths of the bundled Mn K-edge standards, keyed by compound name."""
    folder = _folder()
    return {s.name: folder / s.file for s in MN_STANDARDS}


def mn_standards(names: list[str] | None = None) -> list:
    """The bundled Mn K-edge standards as one-spectrum `Series` (each on its own grid).

    Each series is labelled by compound and carries coords ``valence`` and ``source``.

    Parameters
    ----------
    names
        Compounds to load (see `MN_STANDARDS`); default all.
    """
    from speciate.errors import ValidationError
    from speciate.io import read

    known = {s.name: s for s in MN_STANDARDS}
    names = list(known) if names is None else list(names)
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValidationError(f"unknown bundled standard(s) {unknown}; available: {list(known)}")
    out = []
    for name in names:
        std = known[name]
        series = read(_folder() / std.file, energy="energy_shifted_eV", mu="mu")
        out.append(
            series.replace(labels=(name,), coords={"valence": [std.valence], "source": [std.file]})
        )
    return out


def synthetic_operando(
    n_spectra: int = 60,
    *,
    noise: float = 0.003,
    drift_ev: float = 0.3,
    seed: int = 0,
) -> tuple:
    """An operando-like Mn K-edge series built from the real bundled standards, with known truth.

    Mixtures of MnO (+2), Mn2O3 (+3) and β-MnO2 (+4) follow one charge/discharge: the Mn4+
    fraction rises then falls back. Each spectrum and its Mn-foil reference channel carry the
    same monochromator drift (uniform in ±``drift_ev``), a pre-edge background and Gaussian
    noise of ``noise`` times the edge step.

    Returns
    -------
    series : Series
        (n_spectra, n_energy) raw-like spectra with ``reference`` and elapsed-seconds ``time``.
    truth : dict
        ``weights`` (n_spectra, 3) for ``components``, ``drift`` (n_spectra,) eV (a feature at
        true energy E appears at E - drift), ``valence`` (n_spectra,).
    """
    import numpy as np

    from speciate.series import Series
    from speciate.xanes import normalize

    rng = np.random.default_rng(seed)
    components = ("MnO", "Mn2O3", "MnO2 pyrolusite")
    stds = {s.labels[0]: s for s in mn_standards([*components, "Mn foil"])}
    grid = np.concatenate([np.arange(6440.0, 6520.0, 2.0), np.arange(6520.0, 6600.0, 0.25),
                           np.arange(6600.0, 6740.0, 1.0)])  # fmt: skip
    # (norm) of each standard as a function of true energy, on the standard's own grid
    normed = {name: normalize(s, pre=(-150, -30), post=(50, 400)) for name, s in stds.items()}

    def sample(name: str, energies: np.ndarray) -> np.ndarray:
        nr = normed[name]
        return np.interp(energies, nr.energy, nr.norm[0])

    x = np.sin(np.linspace(0.0, np.pi, n_spectra))
    w_mno2 = 0.15 + 0.6 * x
    w_mno = 0.2 * (1.0 - x)
    weights = np.stack([w_mno, 1.0 - w_mno - w_mno2, w_mno2], axis=1)
    drift = rng.uniform(-drift_ev, drift_ev, n_spectra)
    true_e = grid[None, :] + drift[:, None]  # measured grid point -> true energy
    mix = sum(weights[:, [k]] * sample(name, true_e) for k, name in enumerate(components))
    step = rng.uniform(0.8, 1.2, (n_spectra, 1))
    background = 0.3 - 2e-4 * (grid[None, :] - 6540.0)
    mu = background + step * mix + noise * step * rng.normal(size=mix.shape)
    foil = 0.5 + 0.8 * sample("Mn foil", true_e) + noise * rng.normal(size=mix.shape)
    valence = weights @ np.array([2.0, 3.0, 4.0])
    series = Series(
        grid,
        mu,
        labels=[f"scan_{i:03d}" for i in range(n_spectra)],
        time=np.arange(n_spectra) * 600.0,
        reference=foil,
        coords={"true_valence": valence},
        meta={"source": "speciate.datasets.synthetic_operando", "seed": seed, "noise": noise},
    )
    truth = {"components": components, "weights": weights, "drift": drift, "valence": valence}
    return series, truth
