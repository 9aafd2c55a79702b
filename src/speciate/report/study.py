"""The study report: sections (a)–(f) in the figure types of an operando speciation study.

(a) capacity per cycle, voltage curves of chosen cycles, dQ/dV; (b) operando XANES stacks
coloured by state of charge with a pre-edge inset, derivative stacks with c/d/e and γ;
(c) theory spectra and derivatives against cluster radius per phase, α/β and A/B trends;
(d) LCF table, radius landscape, phase fractions against state of charge with
reversibility per cycle (and recovered against true values when the data carry a truth);
(e) edge shift against state of charge for every edge; (f) EELS valence map with region
spectra. Each figure is captioned in words; a section whose stage failed says so.
"""
from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from speciate._atomic import atomic_write_text
from speciate.provenance import jsonable
from speciate.report.interactive import Block, write_report
from speciate.report.sections_data import section_a, section_b, section_c
from speciate.report.sections_fit import section_d
from speciate.report.sections_maps import section_e, section_f
from speciate.report.study_common import state_of_charge

__all__ = ["build_report", "state_of_charge"]


def _status_block(records: Sequence[Any]) -> Block:
    rows = "".join(
        f"<tr><td style='text-align:left'>{html.escape(r.name)}</td>"
        f"<td class='{'bad' if r.status == 'failed' else 'ok'}'>{r.status}</td>"
        f"<td>{r.seconds:.2f}</td><td style='text-align:left'>"
        f"{html.escape(r.error or r.detail or '')}</td></tr>"
        for r in records
    )
    failures = [f"Stage {r.name} failed: {r.error}" for r in records if r.status == "failed"]
    return Block(
        "stages",
        "Stages of this run",
        "Every stage, whether it ran or came from the cache, and its time.",
        tables=[
            (
                "Stage status (ran: computed now; cached: inputs and options unchanged).",
                "<table><tr><th>stage</th><th>status</th><th>s</th><th>message</th></tr>"
                f"{rows}</table>",
            )
        ],
        failures=failures,
    )


def _failures_for(records: Sequence[Any], kinds: Sequence[str]) -> list[str]:
    return [
        f"Stage {r.name} {r.status}: {r.error or r.detail}"
        for r in records
        if r.kind in kinds and r.status in ("failed", "skipped")
    ]


def build_report(study: Any, inputs: Mapping[str, Any]) -> dict[str, Any]:
    """Draw every section and write ``figures/`` and ``report.html``; returns metrics and files."""
    records = inputs.get("__records__", ())
    out = Path(study.output)
    figdir = out / "figures"
    figdir.mkdir(parents=True, exist_ok=True)
    metrics: dict[str, Any] = {}
    builders = [
        (section_a, ("echem",), False),
        (section_b, ("spectra", "features", "sync"), True),
        (section_c, ("theory",), False),
        (section_d, ("fit", "standards"), True),
        (section_e, ("spectra", "features"), True),
        (section_f, ("eels",), True),
    ]
    blocks: list[Block] = []
    for func, kinds, wants_metrics in builders:
        fails = _failures_for(records, kinds)
        try:
            args = (study, inputs, figdir, fails) + ((metrics,) if wants_metrics else ())
            blocks.append(func(*args))
        except Exception as exc:  # a broken figure must not lose the rest of the report
            title = func.__name__.replace("section_", "section ")
            blocks.append(
                Block(
                    title.replace(" ", "_"),
                    title,
                    failures=[*fails, f"drawing this section failed: {type(exc).__name__}: {exc}"],
                )
            )
    blocks.append(_status_block(records))
    toml_text = study.path.read_text(encoding="utf-8") if study.path else ""
    blocks.append(
        Block(
            "study",
            "Study file",
            "The study file this report was made from.",
            extra_html=f"<pre>{html.escape(toml_text)}</pre>",
        )
    )
    intro = (
        "Made by `speciate run` from the study file below. Results (NetCDF, CSV) are in "
        "results/, the figures in figures/, and provenance.json records input hashes, "
        "options, versions and timings."
    )
    report = write_report(
        out / "report.html", study.report.get("title", study.title), intro, blocks
    )
    atomic_write_text(out / "results" / "metrics.json", json.dumps(jsonable(metrics), indent=1))
    return {
        "metrics": metrics,
        "report": str(report),
        "figures": sorted(str(p) for p in figdir.glob("*.png")),
    }
