"""The demo study: bundled real data, precomputed FEFF10 spectra and a synthetic scenario.

`write_demo_study` copies the bundled data into ``out/data``, builds the synthetic
"spinel domain growth" series (real Li2MnO3 standard + computed LiMn2O4 of growing
fraction and cluster radius, truth stored as coords) and writes ``out/study.toml``;
`run_demo_study` then runs it like any study, so the user can copy and edit that file.
"""

from __future__ import annotations

import re
import shutil
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from speciate._atomic import atomic_write_text
from speciate.series import Series
from speciate.study.schema import Study, load_study

__all__ = ["THEORY_SWEEP", "run_demo_study", "spinel_domain_growth", "write_demo_study"]

#: The call that produced the bundled theory spectra (``--recompute`` reruns it).
THEORY_SWEEP = {
    "phases": ["LiMn2O4", "Li2MnO3", "MnO2", "NMC111"],
    "radii": [2.0, 3.0, 4.0, 5.0, 6.0, 6.8],
    "engine": "feff",
    "options": {},
}


def _bundle() -> Path:
    return Path(str(resources.files("speciate") / "data"))


def spinel_domain_growth(
    host: Series,
    theory: Series,
    *,
    phase: str = "LiMn2O4",
    n_spectra: int = 20,
    fractions: tuple[float, float] = (0.15, 0.85),
    noise: float = 0.003,
    seed: int = 0,
    grid: np.ndarray | None = None,
) -> Series:
    """Synthetic series: a measured host plus a growing spinel domain of growing radius.

    Spectrum i is ``(1 − f_i)·host + f_i·spinel(R_i) + noise`` with f_i rising linearly
    over ``fractions`` and R_i stepping through the computed radii in order, so the spinel
    domain grows in both amount and coherent size.

    Parameters
    ----------
    host
        One normalized measured spectrum (eV), e.g. Li2MnO3.
    theory
        Normalized theory spectra with coords ``phase`` and ``radius`` (Å) on the
        experimental energy scale.
    phase
        The growing phase.
    n_spectra, fractions, noise, seed
        Length, first and last spinel fraction, Gaussian noise σ (normalized units) and
        random seed.
    grid
        Energy grid (eV); default 6440–6620 eV in 0.25 eV steps.

    Returns
    -------
    Series
        (n_spectra, n_energy) with coords ``true_spinel_fraction``, ``true_radius`` (Å),
        ``progress`` (0–1) and ``meta["synthetic"]`` describing the construction. Below
        (above) its computed grid the spinel spectrum is continued by 0 (its last value).
    """
    from speciate.errors import ValidationError

    grid = np.arange(6440.0, 6620.0 + 1e-9, 0.25) if grid is None else np.asarray(grid, float)
    phases = np.asarray(theory.coords["phase"]).astype(str)
    idx = np.nonzero(phases == phase)[0]
    if not idx.size:
        raise ValidationError(f"no {phase} spectra among the theory phases {sorted(set(phases))}")
    radii = np.asarray(theory.coords["radius"], float)[idx]
    order = idx[np.argsort(radii)]
    radii = np.sort(radii)
    h = np.interp(grid, host.energy, host.mu[0])
    f = np.linspace(fractions[0], fractions[1], n_spectra)
    step = np.minimum((np.arange(n_spectra) * radii.size) // n_spectra, radii.size - 1)
    spinel = np.stack(
        [
            np.interp(grid, theory.energy, theory.mu[k], left=0.0, right=theory.mu[k][-1])
            for k in order
        ]
    )[step]
    rng = np.random.default_rng(seed)
    mu = (
        (1.0 - f)[:, None] * h
        + f[:, None] * spinel
        + rng.normal(0.0, noise, (n_spectra, grid.size))
    )
    return Series(
        grid,
        mu,
        labels=tuple(f"growth_{i:02d}" for i in range(n_spectra)),
        coords={
            "true_spinel_fraction": f,
            "true_radius": radii[step],
            "progress": np.linspace(0.0, 1.0, n_spectra),
        },
        meta={
            "synthetic": (
                f"(1-f)*{host.labels[0]} (measured) + f*{phase} (computed, radius R) + "
                f"N(0, {noise}); f {fractions[0]}..{fractions[1]}, R stepping through "
                f"{radii.tolist()} Å; seed {seed}"
            )
        },
    )


def write_demo_study(
    out: str | Path, *, recompute: bool = False, n_spectra: int = 20, seed: int = 0
) -> Path:
    """Copy the bundled data into ``out/data``, build the synthetic series, write study.toml.

    Parameters
    ----------
    out
        Output folder (the report, results and study.toml go here).
    recompute
        Drop the precomputed theory file from the study so FEFF10 runs through the sweep.
    n_spectra, seed
        Length and random seed of the synthetic spinel series.

    Returns
    -------
    Path
        The written study file.
    """
    from speciate.study.stages import standard_series, theory_stage

    out = Path(out)
    data = out / "data"
    src = _bundle() / "demo_study"
    for sub in ("ni_k", "theory"):
        shutil.copytree(src / sub, data / sub, dirs_exist_ok=True)
    shutil.copytree(_bundle() / "mn_standards", data / "mn_standards", dirs_exist_ok=True)
    shutil.copyfile(src / "README.md", data / "README.md")
    text = (src / "study.toml").read_text(encoding="utf-8")
    if recompute:
        text = re.sub(
            r"(?m)^precomputed = .*$",
            "# precomputed file dropped by --recompute: FEFF10 runs the sweep",
            text,
        )
    study_path = out / "study.toml"
    atomic_write_text(study_path, text)
    study = load_study(study_path)
    theory = theory_stage(study, {})["series"]
    # the host exactly as the study normalizes that standard, so the fit sees the same one
    spec = next(s for s in study.standards if s["name"] == "Li2MnO3 (measured)")
    host = standard_series(study, spec)
    series = spinel_domain_growth(host, theory, n_spectra=n_spectra, seed=seed)
    (data / "synthetic").mkdir(parents=True, exist_ok=True)
    series.to_netcdf(data / "synthetic" / "spinel_domain_growth.nc")
    return study_path


def run_demo_study(
    out: str | Path = "demo-output",
    *,
    recompute: bool = False,
    n_spectra: int = 20,
    seed: int = 0,
    progress: Any = None,
) -> Any:
    """Write the demo study into ``out`` and run it; returns the `StudyResult`."""
    from speciate.study.api import run_study

    path = write_demo_study(out, recompute=recompute, n_spectra=n_spectra, seed=seed)
    study: Study = load_study(path)
    return run_study(study, force=("theory",) if recompute else (), progress=progress)
