"""Crystal structures and absorber-centred clusters for theory standards.

`load` reads a CIF (or a bundled phase by name, see `available`) with pymatgen and
refuses cells it cannot trust; `cluster` cuts one `Cluster` per inequivalent absorber
site, the input the FEFF and FDMNES engines are built from.

Examples
--------
>>> from speciate import structures
>>> [c.n_atoms for c in structures.cluster("LiMn2O4", radius=5.0)]
[51]
"""

from __future__ import annotations

from speciate.structures.clusters import BOUNDARY_TOL, Cluster, Shell, cluster
from speciate.structures.loading import Structure, available, bundled_path, load

__all__ = [
    "BOUNDARY_TOL",
    "Cluster",
    "Shell",
    "Structure",
    "available",
    "bundled_path",
    "cluster",
    "load",
]
