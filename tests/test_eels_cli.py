"""`speciate eels SI --refs ... -o maps.nc --plot` end to end on written files."""

from __future__ import annotations

import numpy as np
import pytest

from speciate.cli import main
from speciate.eels.synthetic import mn_references

rsciio_hspy = pytest.importorskip("rsciio.hspy")
rsciio_msa = pytest.importorskip("rsciio.msa")
xr = pytest.importorskip("xarray")

ENERGY = 580.0 + 0.25 * np.arange(440)  # 580-689.75 eV


def _signal(data: np.ndarray, nav: int) -> dict:
    axes = [
        {"name": n, "size": s, "scale": 5.0, "offset": 0.0, "units": "nm", "navigate": True}
        for n, s in zip(("y", "x")[:nav], data.shape[:nav])
    ]
    axes.append(
        {
            "name": "Energy loss",
            "size": ENERGY.size,
            "scale": 0.25,
            "offset": 580.0,
            "units": "eV",
            "navigate": False,
        }
    )
    return {
        "data": data, "axes": axes,
        "metadata": {"Signal": {"signal_type": "EELS"}, "General": {"title": "t"}},
        "original_metadata": {}, "tmp_parameters": {}, "attributes": {"_lazy": False},
        "learning_results": {}, "package_info": {"name": "speciate", "version": "test"},
        "models": {},
    }  # fmt: skip


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cli")
    refs = mn_references(ENERGY, valences=(2, 4), fwhm=1.0)
    yy, xx = np.mgrid[:12, :12]
    core = np.hypot(yy - 5.5, xx - 5.5) < 3.5
    f4 = np.where(core, 1.0, 0.0)[..., None]
    bg = 4e3 * (ENERGY / 600.0) ** -3.0
    rng = np.random.default_rng(0)
    counts = rng.poisson(bg + 5e3 * ((1 - f4) * refs.mu[0] + f4 * refs.mu[1])).astype(float)
    rsciio_hspy.file_writer(str(tmp / "si.hspy"), _signal(counts, 2))
    paths = []
    for i, label in enumerate(("mn2", "mn4")):
        path = tmp / f"{label}.msa"
        rsciio_msa.file_writer(str(path), _signal(refs.mu[i], 0))
        paths.append(path)
    return tmp, paths, core


def test_cli_writes_valence_maps_and_figure(files):
    tmp, (mn2, mn4), core = files
    out = tmp / "maps.nc"
    code = main(["eels", str(tmp / "si.hspy"), "--refs", str(mn2), "--refs", str(mn4),
                 "--valences", "2,4", "-o", str(out), "--plot"])  # fmt: skip
    assert code == 0
    ds = xr.load_dataset(out, engine="h5netcdf")
    valence = ds["valence"].values
    assert valence.shape == (12, 12)
    assert abs(valence[core].mean() - 4.0) < 0.1 and abs(valence[~core].mean() - 2.0) < 0.1
    assert list(ds["reference"].values) == ["mn2", "mn4"]
    png = out.with_suffix(".png")
    assert png.stat().st_size > 10_000 and png.read_bytes()[:4] == b"\x89PNG"


def test_cli_reports_bad_windows_as_one_error(files, capsys):
    tmp, (mn2, mn4), _ = files
    code = main(["eels", str(tmp / "si.hspy"), "--refs", str(mn2), "--refs", str(mn4),
                 "--window", "700,720", "-o", str(tmp / "bad.nc")])  # fmt: skip
    assert code == 1
    assert "reaches outside the data" in capsys.readouterr().err
    assert not (tmp / "bad.nc").exists()
