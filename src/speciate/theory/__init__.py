"""Theory standards: Mn K-edge XANES of absorber-centred clusters from FEFF10 and FDMNES.

Engines follow one protocol (`Engine`: inputs -> write -> run -> parse) and share one
runner and one content-hash cache; `sweep` fans phases × radii out over Dask and
`normalize` puts the computed spectra on one scale; `broaden`, `gaussian_broaden` and
`align_to` turn them into standards comparable with experiment.
"""

from speciate.theory.base import Engine, Recipe, TheorySpectrum, recipe_key
from speciate.theory.broadening import (
    TheoryAlignment,
    align_to,
    broaden,
    core_hole_width,
    gaussian_broaden,
    lorentzian_width,
)
from speciate.theory.cache import Cache, default_cache_dir
from speciate.theory.compute import ComputeResult, compute
from speciate.theory.fdmnes import (
    FdmnesEngine,
    FdmnesOptions,
    read_fdmnes_bav,
    read_fdmnes_conv,
    read_fdmnes_txt,
)
from speciate.theory.feff import ClusterTooLargeError, FeffEngine, FeffOptions, read_xmu
from speciate.theory.formats import register_all
from speciate.theory.maxima import DerivativeMaxima, derivative_maxima
from speciate.theory.normalize import normalize
from speciate.theory.runner import EngineTimeout, run_command
from speciate.theory.sweep import Failure, SiteSpectrum, SweepResult, get_engine, sweep

# engine outputs become readable by speciate.io.read once speciate.theory is imported
register_all()

__all__ = [
    "Cache",
    "ClusterTooLargeError",
    "ComputeResult",
    "DerivativeMaxima",
    "Engine",
    "EngineTimeout",
    "Failure",
    "FdmnesEngine",
    "FdmnesOptions",
    "FeffEngine",
    "FeffOptions",
    "Recipe",
    "SiteSpectrum",
    "SweepResult",
    "TheoryAlignment",
    "TheorySpectrum",
    "align_to",
    "broaden",
    "compute",
    "core_hole_width",
    "default_cache_dir",
    "derivative_maxima",
    "gaussian_broaden",
    "get_engine",
    "lorentzian_width",
    "normalize",
    "read_fdmnes_bav",
    "read_fdmnes_conv",
    "read_fdmnes_txt",
    "read_xmu",
    "recipe_key",
    "run_command",
    "sweep",
]
