"""Use-cases shared by the command line and the web app.

Only this package (with ``cli.py`` and ``web/``) touches the database; the
modules below it (ingest, codebook, coders, analysis, report) stay pure.
"""

from chimeqda.services.coding import (
    add_coding,
    decide,
    pending_suggestions,
    project_decisions,
    project_segments,
    remove_coding,
    run_coder,
)
from chimeqda.services.frames import (
    codings_frame,
    documents_frame,
    participants_frame,
    segments_frame,
)
from chimeqda.services.importing import import_files, read_participants_csv
from chimeqda.services.project import Workspace, init_project, open_project
from chimeqda.services.reporting import project_report

__all__ = [
    "Workspace",
    "add_coding",
    "codings_frame",
    "decide",
    "documents_frame",
    "import_files",
    "init_project",
    "open_project",
    "participants_frame",
    "pending_suggestions",
    "project_decisions",
    "project_report",
    "project_segments",
    "read_participants_csv",
    "remove_coding",
    "run_coder",
    "segments_frame",
]
