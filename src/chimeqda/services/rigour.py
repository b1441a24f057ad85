"""Rigour services, by area (this module gathers their names for existing callers).

- :mod:`chimeqda.services.comparison`: the coders compared, the documents they
  share and each coder's codings on their segments;
- :mod:`chimeqda.services.agreement`: inter-coder agreement, disagreements,
  reconciliation, the coding history and its replay;
- :mod:`chimeqda.services.framework`: the framework matrix and cell summaries,
  saturation, attribute comparisons and the report's rigour sections.

HTML rendering is in :mod:`chimeqda.report.rigour`; XLSX writing in
:func:`chimeqda.interop.spreadsheets.write_workbook`.
"""

from chimeqda.report.rigour import framework_html
from chimeqda.services.agreement import (
    CELL_TARGET,
    HISTORY_COLUMNS,
    AgreementResult,
    agreement,
    coding_history,
    disagreements,
    reconcile,
    reconcile_disagreements,
    replay,
)
from chimeqda.services.comparison import (
    CONSENSUS,
    SPECIAL,
    SUMMARY_DRAFTER,
    CoderRef,
    Comparison,
    coders_frame,
    compare,
    default_coders,
    ratings_frame,
    resolve_coder,
)
from chimeqda.services.framework import (
    SaturationResult,
    attribute_comparison,
    cell_summaries,
    draft_summaries,
    framework,
    framework_tables,
    interview_order,
    rigour_parts,
    rigour_sections,
    saturation,
    write_summary,
)

__all__ = [
    "CELL_TARGET", "CONSENSUS", "HISTORY_COLUMNS", "SPECIAL", "SUMMARY_DRAFTER", "AgreementResult", "CoderRef",
    "Comparison", "SaturationResult", "agreement", "attribute_comparison", "cell_summaries", "coders_frame",
    "coding_history", "compare", "default_coders", "disagreements", "draft_summaries", "framework",
    "framework_html", "framework_tables", "interview_order", "ratings_frame", "reconcile",
    "reconcile_disagreements", "replay", "resolve_coder", "rigour_parts", "rigour_sections", "saturation",
    "write_summary",
]
