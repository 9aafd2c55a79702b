"""Reports: figures (PNG) and a self-contained HTML page with provenance."""

from speciate.report.figures import plot_normalized, plot_shifts, save_figure
from speciate.report.html import Section, write_html

__all__ = ["Section", "plot_normalized", "plot_shifts", "save_figure", "write_html"]
