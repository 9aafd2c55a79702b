"""A self-contained HTML page with captioned PNG figures and interactive Plotly plots.

plotly.js is inlined once (no CDN, the page opens offline); each interactive plot is a
``div`` filled by ``Plotly.newPlot`` from its JSON.
"""

from __future__ import annotations

import base64
import html
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from speciate._atomic import atomic_write_text

__all__ = ["Block", "Figure", "write_report"]

_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1150px; margin: 2em auto; color: #222;
 padding: 0 1em; }
h1 { border-bottom: 2px solid #446; } h2 { color: #334; margin-top: 2.2em; }
figure { margin: 1.2em 0; } img { max-width: 100%; border: 1px solid #ddd; }
figcaption { font-size: 0.9em; color: #333; margin-top: .3em; }
.plot { width: 100%; height: 440px; border: 1px solid #ddd; }
figure.table { overflow-x: auto; }
table { border-collapse: collapse; font-size: 0.82em; margin: .8em 0; }
td, th { border: 1px solid #ccc; padding: 2px 6px; text-align: right; }
.failed { background: #fdecea; border-left: 4px solid #c62828; padding: .5em 1em; }
.note { background: #fff8e1; border-left: 4px solid #f9a825; padding: .5em 1em; }
.ok { color: #2e7d32; } .bad { color: #c62828; }
pre { background: #f6f6f8; padding: 1em; overflow-x: auto; font-size: 0.78em; }
"""


@dataclass(frozen=True)
class Figure:
    """One figure: a PNG file or a Plotly figure (``plotly``), with its caption."""

    caption: str
    png: Path | None = None
    plotly: Any = None
    ident: str = ""


@dataclass(frozen=True)
class Block:
    """One report section: heading, text, figures, tables (HTML), notes and failures."""

    key: str
    title: str
    text: str = ""
    figures: Sequence[Figure] = ()
    tables: Sequence[tuple[str, str]] = ()
    notes: Sequence[str] = ()
    failures: Sequence[str] = ()
    extra_html: str = ""
    details: dict[str, Any] = field(default_factory=dict)


def _png(path: Path) -> str:
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    return f'<img alt="" src="data:image/png;base64,{data}">'


def write_report(path: str | Path, title: str, intro: str, blocks: Sequence[Block]) -> Path:
    """Write the report atomically; returns its path."""
    from plotly.offline import get_plotlyjs

    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style>",
        f"<script>{get_plotlyjs()}</script></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f"<p>{html.escape(intro)}</p>",
        "<nav><ul>"
        + "".join(f"<li><a href='#{b.key}'>{html.escape(b.title)}</a></li>" for b in blocks)
        + "</ul></nav>",
    ]
    scripts: list[str] = []
    n_plot = 0
    for b in blocks:
        parts.append(f"<section id='{b.key}' data-section='{b.key}'>")
        parts.append(f"<h2>{html.escape(b.title)}</h2>")
        for msg in b.failures:
            parts.append(f"<div class='failed'>{html.escape(msg)}</div>")
        for para in filter(None, b.text.split("\n\n")):
            parts.append(f"<p>{html.escape(para)}</p>")
        for note in b.notes:
            parts.append(f"<div class='note'>{html.escape(note)}</div>")
        for fig in b.figures:
            cap = f"<figcaption>{html.escape(fig.caption)}</figcaption>"
            if fig.png is not None:
                parts.append(f"<figure class='png'>{_png(fig.png)}{cap}</figure>")
            if fig.plotly is not None:
                n_plot += 1
                ident = fig.ident or f"plot{n_plot}"
                parts.append(
                    f"<figure class='interactive'><div class='plot' id='{ident}'></div>"
                    f"{cap}</figure>"
                )
                spec = fig.plotly.to_json()
                scripts.append(
                    f"(function(){{var f={spec};Plotly.newPlot('{ident}',f.data,f.layout,"
                    "{responsive:true,displaylogo:false});})();"
                )
        for caption, table_html in b.tables:
            parts.append(
                f"<figure class='table'>{table_html}"
                f"<figcaption>{html.escape(caption)}</figcaption></figure>"
            )
        if b.extra_html:
            parts.append(b.extra_html)
        if b.details:
            record = json.dumps(b.details, indent=1, default=str)
            parts.append(
                f"<details><summary>details</summary><pre>{html.escape(record)}</pre></details>"
            )
        parts.append("</section>")
    parts.append("<script>" + "\n".join(scripts) + "</script></body></html>")
    path = Path(path)
    atomic_write_text(path, "\n".join(parts))
    return path
