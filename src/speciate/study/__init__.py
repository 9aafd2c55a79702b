"""Studies: one TOML file describing spectra, standards, theory, fits, cycling and EELS,
run as a cached graph of stages into results, figures, a report and provenance.

`load_study` validates a study file (errors name the key and the line), `run_study` runs
it, `template` is the commented starting point that ``speciate init`` writes.
"""

from speciate.study.api import run_study, write_results
from speciate.study.runner import Stage, StageRecord, StudyResult
from speciate.study.schema import Study, StudyError, load_study, parse_study
from speciate.study.template import template

__all__ = [
    "Stage",
    "StageRecord",
    "Study",
    "StudyError",
    "StudyResult",
    "load_study",
    "parse_study",
    "run_study",
    "template",
    "write_results",
]
