from __future__ import annotations

import re

import pandas as pd
import pytest

from chimeqda.report import Report, build_report, render_html, write_report

EVIL = '<script>alert("x")</script>'  # as in conftest.py


@pytest.fixture
def report(codings, codebook, participants) -> Report:
    return build_report(
        codings,
        codebook,
        participants,
        title="NA recovery study",
        project_name=f"Project {EVIL}",
        attribute_bins={"years_in_recovery": [1, 5, 10]},
        provenance="lexicon coder 0.1 (min_hits=1)",
        extra_sections=[(f"Agreement {EVIL}", "<p class='kappa'>kappa = 0.81</p>")],
    )


def test_report_tables(report):
    assert isinstance(report, Report)
    assert report.central_code == "connectedness"
    assert report.frequencies.loc["connectedness", "mentioned_by"] == "2 of 4 participants"
    assert report.frequencies.loc["meaning", "segments"] == 0  # suggestions left out
    assert list(report.participant_matrix.index) == ["P01", "P02", "P03", "P04"]
    assert set(report.by_attribute) == {"gender", "years_in_recovery", "note"}  # 4 groups: ok
    assert set(report.figures) == {"participants", "heatmap", "network"}
    assert all(png.startswith(b"\x89PNG") for png in report.figures.values())
    assert "Connectedness was mentioned by 2 of 4 participants" in report.summary[0]
    assert "most linked to it was" in report.summary[0]
    assert any("Machine coding: lexicon coder 0.1" in note for note in report.methods)
    assert any("\u00b11 segments" in note for note in report.methods)
    assert report.most_linked is not None and report.most_linked.iloc[0]["code"] in {
        "hope", "identity", "difficulties"
    }


def test_note_attribute_with_many_values_is_skipped(codings, codebook, participants):
    many = participants.assign(note=[f"n{i}" for i in range(4)])
    extra = pd.DataFrame({"participant": [f"X{i}" for i in range(10)],
                          "note": [f"x{i}" for i in range(10)]})
    people = pd.concat([many, extra], ignore_index=True)
    report = build_report(codings, codebook, people)
    assert "note" not in report.by_attribute
    assert report.settings["skipped_attributes"] == ["note"]
    assert any("note" in line for line in report.methods)


def test_include_suggested_changes_counts(codings, codebook, participants):
    report = build_report(codings, codebook, participants, include_suggested=True)
    assert report.frequencies.loc["connectedness", "participants"] == 3
    assert report.frequencies.loc["meaning", "segments"] == 1
    assert "accepted and suggested codings" in report.summary[-1]


def test_write_report(report, tmp_path):
    path = write_report(report, tmp_path / "out")
    assert path == tmp_path / "out" / "report.html"
    html = path.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>")
    # tables and prose
    assert "2 of 4 participants" in html
    assert "Categories most linked to Connectedness" in html
    assert "Peer support" in html and "P04" in html
    assert "5-10 (n=1)" in html
    assert "lexicon coder 0.1" in html
    assert "My sponsor picks up the phone" in html
    # self-contained: no external references at all, images inline
    assert not re.search(r"https?:", html)
    for attr in re.findall(r'(?:src|href)="([^"]*)"', html):
        assert attr.startswith(("#", "data:image/png;base64,")), attr
    assert html.count('src="data:image/png;base64,') == 3
    assert "<link" not in html and "@import" not in html
    # user text escaped; only our trusted extra section is raw
    assert EVIL not in html
    assert "&lt;script&gt;" in html
    assert "<script" not in html
    assert "<p class='kappa'>kappa = 0.81</p>" in html
    assert f"Agreement {EVIL}" not in html


def test_csvs_written_and_readable(report, tmp_path):
    write_report(report, tmp_path)
    tables = tmp_path / "tables"
    names = {p.stem for p in tables.glob("*.csv")}
    assert names == set(report.tables())
    assert {"frequencies", "participant_matrix", "cooccurrence", "cooccurrence_matrix",
            "most_linked", "quotes", "by_gender", "by_years_in_recovery",
            "frequencies_all_codes"} <= names
    freq = pd.read_csv(tables / "frequencies.csv", index_col="code")
    assert freq.loc["connectedness", "participants"] == 2
    assert list(freq.index) == list(report.frequencies.index)
    matrix = pd.read_csv(tables / "participant_matrix.csv", index_col="participant")
    assert matrix.loc["P04"].sum() == 0
    quotes = pd.read_csv(tables / "quotes.csv")
    assert any(EVIL in text for text in quotes["text"])  # CSV keeps the raw text
    square = pd.read_csv(tables / "cooccurrence_matrix.csv", index_col=0)
    assert square.shape == (6, 6)


def test_empty_project(codebook, participants, tmp_path):
    empty = pd.DataFrame(columns=["document_id", "segment_id", "code", "status", "participant"])
    report = build_report(empty, codebook, participants)
    assert report.central_code is None and report.most_linked is None
    assert "no accepted codings" in report.summary[0]
    assert "network" not in report.figures
    html = write_report(report, tmp_path).read_text(encoding="utf-8")
    assert "No quotes yet" in html


def test_window_zero_and_render_html(codings, codebook, participants):
    report = build_report(codings, codebook, participants, window=0)
    assert any("when one segment carries both" in note for note in report.methods)
    html = render_html(report)
    assert "units are segments" in html
