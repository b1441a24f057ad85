"""The sample study end to end: the report shows the rigour sections (human vs machine agreement first)."""

from __future__ import annotations

import re

from chimeqda.services import import_files, project_report, run_coder
from chimeqda.services.demo import sample_study_dir
from chimeqda.services.reference import apply_reference
from chimeqda.services.rigour import agreement, default_coders, rigour_sections


def test_sample_study_report_shows_agreement_framework_saturation_and_attributes(workspace, tmp_path):
    study = sample_study_dir()
    import_files(workspace, [study / "transcripts"], participants_csv=study / "participants.csv")
    run_coder(workspace, "lexicon")  # the fast offline coder stands in for the default one
    apply_reference(workspace, study / "reference-coding.csv")

    assert default_coders(workspace) == ["human:reference", "machine:lexicon"]
    result = agreement(workspace, n_boot=100)
    by_code = result.by_code.set_index("code")
    assert len(result.by_document) == 7  # the reference-coded transcripts
    assert list(by_code.index) == ["connectedness", "hope", "identity", "meaning", "empowerment", "difficulties",
                                   "(all codes)"]
    assert by_code["units"].iloc[0] > 1000 and by_code["alpha"].notna().all()
    assert (by_code["alpha_low"] <= by_code["alpha"]).all() and (by_code["alpha"] <= by_code["alpha_high"]).all()

    sections = rigour_sections(workspace, include_suggested=True, n_boot=100, n_orders=100)
    page = project_report(workspace, tmp_path / "report", include_suggested=True,
                          extra_sections=sections).read_text(encoding="utf-8")
    assert "Agreement per category: reference vs lexicon" in page
    assert re.search(r"Connectedness</td><td class=\"num\">\d+", page)
    assert 'class="framework"' in page and "P10" in page
    assert "Saturation curve" in page and "Guest, Namey &amp; Chen" in page
    assert "By gender" in page and "female (n=4)" in page
