"""Theory standards: Mn K-edge XANES of absorber-centred clusters from FEFF10 and FDMNES.

Engines follow one protocol (`Engine`: inputs -> write -> run -> parse) and share one
runner and one content-hash cache; `sweep` fans phases × radii out over Dask and
`normalize` puts the computed spectra on one scale.
"""

from speciate.theory.base import Engine, Recipe, TheorySpectrum, recipe_key
from speciate.theory.cache import Cache, default_cache_dir
from speciate.theory.compute import ComputeResult, compute
from speciate.theory.feff import FeffEngine, FeffOptions, read_xmu
from speciate.theory.runner import EngineTimeout, run_command

__all__ = [
    "Cache",
    "ComputeResult",
    "Engine",
    "EngineTimeout",
    "FeffEngine",
    "FeffOptions",
    "Recipe",
    "TheorySpectrum",
    "compute",
    "default_cache_dir",
    "read_xmu",
    "recipe_key",
    "run_command",
]
