"""The results report: one self-contained HTML file and a CSV per table.

>>> report = build_report(codings, codebook, participants, window=1)  # doctest: +SKIP
>>> write_report(report, Path("out"))                                 # doctest: +SKIP
PosixPath('out/report.html')
"""

from __future__ import annotations

from .builder import Report, build_report
from .html import cell_text, render_html, write_report

__all__ = ["Report", "build_report", "cell_text", "render_html", "write_report"]
