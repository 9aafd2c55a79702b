"""Build the data bundled with `speciate demo` (src/speciate/data/demo_study).

Usage::

    python tools/build_demo_data.py PEREX_DIR THEORY_NC

PEREX_DIR is the ``example/operando`` folder of GhostDeini/perex (BSD-3-Clause) laid out
as ``XAS_normalized/*.txt``, ``EC/*.mpt`` and ``LICENSE_perex.txt``; THEORY_NC the NetCDF
written by ``speciate.theory.sweep(...).to_netcdf`` for the Mn phases (see
`speciate.demo.THEORY_SWEEP` for the exact call). What is kept:

* every third op2 spectrum (0001, 0004, ..., 0055) and the last (0058), rows trimmed to
  8200–8800 eV, header lines unchanged;
* the first EC-Lab file of the cell, unchanged (the continuation file is left out);
* the theory spectra, unchanged.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

DEST = Path(__file__).resolve().parents[1] / "src" / "speciate" / "data" / "demo_study"
E_MIN, E_MAX = 8200.0, 8800.0


def trim_spectrum(src: Path, dest: Path) -> None:
    """Copy a SOLEIL spectrum keeping the header and rows with E_MIN <= energy <= E_MAX."""
    out = []
    for line in src.read_text(encoding="latin-1").splitlines():
        if line.startswith("#") or not line.strip():
            out.append(line)
            continue
        if E_MIN <= float(line.split()[0]) <= E_MAX:
            out.append(line)
    dest.write_text("\n".join(out) + "\n", encoding="latin-1")


def main(perex: Path, theory: Path | None) -> None:
    spectra = sorted((perex / "XAS_normalized").glob("norm_op2_cell4_pos1_dq1_*_av240_00001.txt"))
    keep = [p for i, p in enumerate(spectra) if i % 3 == 0] + [spectra[-1]]
    (DEST / "ni_k" / "XAS").mkdir(parents=True, exist_ok=True)
    (DEST / "ni_k" / "EC").mkdir(parents=True, exist_ok=True)
    (DEST / "theory").mkdir(parents=True, exist_ok=True)
    for old in (DEST / "ni_k" / "XAS").glob("*.txt"):
        old.unlink()
    for p in dict.fromkeys(keep):
        trim_spectrum(p, DEST / "ni_k" / "XAS" / p.name)
    shutil.copyfile(
        perex / "EC" / "220726cell4operandoxas_C06.mpt",
        DEST / "ni_k" / "EC" / "220726cell4operandoxas_C06.mpt",
    )
    shutil.copyfile(perex / "LICENSE_perex.txt", DEST / "ni_k" / "LICENSE_perex.txt")
    if theory is not None:
        shutil.copyfile(theory, DEST / "theory" / "feff10_mn_radius.nc")
    total = sum(f.stat().st_size for f in DEST.rglob("*") if f.is_file())
    print(f"{len(set(keep))} spectra; bundle {total / 1e6:.2f} MB in {DEST}")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]) if len(sys.argv) > 2 else None)
