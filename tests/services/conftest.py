"""Fixtures shared by the service tests."""

from __future__ import annotations

import pytest

from chimeqda.services import import_files, run_coder


@pytest.fixture
def coded(workspace, transcripts):
    """The two test transcripts imported and coded by the lexicon coder: (workspace, its run)."""
    import_files(workspace, [transcripts])
    run = run_coder(workspace, "lexicon")
    return workspace, run
