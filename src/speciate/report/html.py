"""A self-contained HTML report: sections with text, PNG figures, tables and provenance."""

from __future__ import annotations

import base64
import html
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from speciate._atomic import atomic_write_text
from speciate.provenance import jsonable, versions

__all__ = ["Section", "write_html"]

_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; color: #222; }
h1 { border-bottom: 2px solid #446; } h2 { color: #334; margin-top: 2em; }
img { max-width: 100%; border: 1px solid #ddd; }
table { border-collapse: collapse; font-size: 0.85em; } td, th { border: 1px solid #ccc;
padding: 2px 6px; text-align: right; } pre { background: #f6f6f8; padding: 1em; overflow-x: auto;
font-size: 0.8em; }
"""


@dataclass(frozen=True)
class Section:
    """One part of a report.

    Parameters
    ----------
    title
        Heading.
    text
        Paragraph(s), plain text (escaped).
    figures
        PNG files to embed (inlined as base64 so the page stands alone).
    table
        A pandas DataFrame (or anything with ``to_html``) shown below the figures.
    provenance
        JSON-serializable record of what produced this section.
    """

    title: str
    text: str = ""
    figures: Sequence[Path] = ()
    table: Any = None
    provenance: Mapping[str, Any] = field(default_factory=dict)


def _figure_html(path: Path) -> str:
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    name = html.escape(Path(path).name)
    return (
        f'<figure><img alt="{name}" src="data:image/png;base64,{data}"><figcaption>{name}'
        "</figcaption></figure>"
    )


def write_html(path: str | Path, title: str, sections: Sequence[Section]) -> Path:
    """Write the report to ``path`` atomically and return it."""
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'>",
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
    ]
    for sec in sections:
        parts.append(f"<h2>{html.escape(sec.title)}</h2>")
        for para in filter(None, sec.text.split("\n\n")):
            parts.append(f"<p>{html.escape(para)}</p>")
        parts.extend(_figure_html(p) for p in sec.figures)
        if sec.table is not None:
            parts.append(sec.table.to_html(float_format=lambda v: f"{v:.4g}", border=0))
        if sec.provenance:
            record = json.dumps(jsonable(dict(sec.provenance)), indent=1)
            parts.append(f"<details><summary>provenance</summary><pre>{html.escape(record)}"
                         "</pre></details>")  # fmt: skip
    env = json.dumps(versions("xarray", "pandas", "matplotlib"), indent=1)
    parts.append(f"<h2>Software</h2><pre>{html.escape(env)}</pre></body></html>")
    path = Path(path)
    atomic_write_text(path, "\n".join(parts))
    return path
