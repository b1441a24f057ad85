"""Framework matrix summaries, XLSX/HTML export, saturation and the CLI."""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from openpyxl import load_workbook
from sqlalchemy import select

from chimeqda.analysis.framework import draft_summary, framework_wide
from chimeqda.analysis.saturation import saturation_bootstrap, saturation_curve, saturation_point
from chimeqda.cli import main
from chimeqda.interop.spreadsheets import write_workbook
from chimeqda.services import participants_frame, rigour
from chimeqda.store import tables as t


def _memos(ws):
    with ws.session() as session:
        return {m.id: (m.target_type, m.target_id, m.title, m.text, m.author_id) for m in session.scalars(select(t.Memo))}


def test_summary_workflow_machine_draft_then_person_edit(coded):
    cells = rigour.framework(coded)
    assert set(cells["participant"]) == {"P01", "P02", "P03"}  # P03 has no transcript but a row
    filled = cells[cells["segments"] > 0]
    assert len(filled) and (cells["summary"] == "").all()

    made = rigour.draft_summaries(coded)
    assert made == len(filled)
    drafted = rigour.framework(coded).set_index(["participant", "code"])
    cell = drafted.loc[("P01", "connectedness")]
    assert cell["machine_drafted"] and cell["summary_author"] == "summary-draft" and cell["summary"]
    assert drafted.loc[("P03", "hope"), "summary"] == ""

    before = _memos(coded)
    rigour.write_summary(coded, "P01", "connectedness", "The group and her sponsor carry her.", by="ann")
    edited = rigour.framework(coded).set_index(["participant", "code"]).loc[("P01", "connectedness")]
    assert edited["summary"] == "The group and her sponsor carry her."
    assert not edited["machine_drafted"] and edited["summary_author"] == "ann"
    after = _memos(coded)
    assert {k: after[k] for k in before} == before and len(after) == len(before) + 1  # appended, not updated
    newest = after[max(after)]
    assert newest[0] == "framework_cell" and newest[2] == "participant=P01;code=connectedness"

    # drafting again never replaces a person's summary, nor (without redraft) a draft
    assert rigour.draft_summaries(coded) == 0
    assert rigour.draft_summaries(coded, redraft=True) == 0  # drafts are unchanged, so nothing new
    final = rigour.framework(coded).set_index(["participant", "code"]).loc[("P01", "connectedness")]
    assert final["summary_author"] == "ann"


def test_summaries_of_unknown_cells_are_refused(coded):
    from chimeqda.errors import UnknownObject

    with pytest.raises(UnknownObject):
        rigour.write_summary(coded, "P99", "hope", "x", by="ann")
    with pytest.raises(UnknownObject):
        rigour.write_summary(coded, "P01", "nonsense", "x", by="ann")


def test_draft_summary_is_extractive_and_in_order():
    texts = [
        "I go to the meeting every week and the group carries me.",
        "The weather was bad.",
        "My sponsor and the group carry me through every craving.",
        "The group is where people understand me and carry me.",
    ]
    draft = draft_summary(texts, sentences=2)
    parts = draft.split(" … ")
    assert len(parts) == 2 and all(part in texts for part in parts)
    assert "weather" not in draft
    assert [texts.index(p) for p in parts] == sorted(texts.index(p) for p in parts)


def test_framework_matrix_sorted_by_attributes(coded):
    cells = rigour.framework(coded)
    people = participants_frame(coded)
    wide = framework_wide(cells, "segments", people, sort_by=["gender", "age"], attributes=["gender", "age"])
    assert list(wide.columns[:2]) == ["gender", "age"]
    assert list(wide.index) == ["P03", "P02", "P01"]  # man 28, man 51, woman 34
    assert "Connectedness" in wide.columns


def test_xlsx_has_a_readme_and_one_sheet_per_table_and_opens_in_libreoffice(coded, tmp_path):
    rigour.draft_summaries(coded)
    cells = rigour.framework(coded)
    tables = rigour.framework_tables(cells, participants_frame(coded), sort_by=["gender"])
    tables.update(rigour.agreement(coded, ["ann", "bob"], n_boot=20).tables())
    path = write_workbook(tables, tmp_path / "rigour.xlsx", readme=["chimeqda test workbook"])
    book = load_workbook(path)
    assert book.sheetnames == ["README", *[name[:31] for name in tables]]
    assert book["README"]["A2"].value == "chimeqda test workbook"
    counts = book["counts"]
    assert counts["A1"].value == "participant" and counts.max_row == 4
    summaries = [c.value for row in book["summaries"].iter_rows(min_row=2) for c in row if isinstance(c.value, str)]
    assert any(v.startswith("[machine draft]") for v in summaries)

    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if soffice is None:
        pytest.skip("LibreOffice (soffice) is not on PATH; CI installs it")
    out = tmp_path / "pdf"
    profile = tmp_path / "lo-profile"
    done = subprocess.run(
        [soffice, f"-env:UserInstallation=file://{profile}", "--headless", "--convert-to", "pdf",
         "--outdir", str(out), str(path)],
        capture_output=True, text=True, timeout=180,
    )
    assert done.returncode == 0, done.stderr
    pdf = out / "rigour.pdf"
    assert pdf.exists() and pdf.read_bytes().startswith(b"%PDF")


def test_framework_html_escapes_and_marks_drafts(coded):
    rigour.draft_summaries(coded)
    rigour.write_summary(coded, "P02", "connectedness", "<script>alert(1)</script> & more", by="ann")
    page = rigour.framework_html(rigour.framework(coded), participants_frame(coded), sort_by=["age"])
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "machine draft" in page and page.startswith("<!DOCTYPE html>")


# ---------------------------------------------------------------- saturation


def _presence(rows):
    codes = sorted({c for row in rows for c in row})
    return pd.DataFrame([[int(c in row) for c in codes] for row in rows], columns=codes,
                        index=pd.Index(range(1, len(rows) + 1), name="document_id"))


def test_saturation_on_a_toy_sequence():
    interviews = [{"a", "b", "c"}, {"a", "d"}, {"b", "e"}, {"f"}, {"a"}, {"b", "g"}, {"a"}, {"c"}, {"b"}]
    curve = saturation_curve(_presence(interviews))
    assert list(curve["new_codes"]) == [3, 1, 1, 1, 0, 1, 0, 0, 0]
    assert list(curve["cumulative"]) == [3, 4, 5, 6, 6, 7, 7, 7, 7]
    assert curve["coverage"].iloc[-1] == 1.0 and curve["new_code_ids"].iloc[1] == "d"
    # base 4 has 6 codes; run 5-6 brings 1 new (17% > 5%); run 6-7 brings 1 (17%); run 7-8 brings 0
    point = saturation_point(curve["new_codes"], base=4, run=2, threshold=0.05)
    assert point["reached"] and point["position"] == 8 and point["label"] == "6+2" and point["base_codes"] == 6
    assert saturation_point(curve["new_codes"], base=4, run=2, threshold=0.2)["position"] == 6
    assert not saturation_point([3, 1, 1], base=4, run=2)["reached"]


def test_saturation_bootstrap_over_orders():
    interviews = [{"a", "b", "c"}, {"a", "d"}, {"b", "e"}, {"f"}, {"a"}, {"b", "g"}, {"a"}, {"c"}, {"b"}]
    curve, points = saturation_bootstrap(_presence(interviews), n_orders=200, random_state=1)
    assert list(curve["position"]) == list(range(1, 10))
    assert (np.diff(curve["cumulative_mean"]) >= 0).all() and curve["cumulative_mean"].iloc[-1] == 7
    assert (curve["cumulative_low"] <= curve["cumulative_mean"]).all()
    assert len(points) == 200 and curve["saturated_share"].is_monotonic_increasing


def test_saturation_service_in_interview_order(coded):
    result = rigour.saturation(coded, include_suggested=True, n_orders=50, base=1, run=1)
    assert list(result.curve["label"]) == ["P01", "P02"]
    assert result.curve["cumulative"].iloc[-1] == result.curve["codes"].max() or result.curve["new_codes"].sum() > 0
    assert "Guest" in result.note


# ---------------------------------------------------------------- CLI and report


def test_cli_commands(coded, tmp_path):
    runner = CliRunner()
    base = ["--project", str(coded.directory), "--db", str(coded.engine.url.render_as_string(hide_password=False))]

    def run(*args):
        result = runner.invoke(main, [args[0], *base, *args[1:]], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    assert "lexicon" in run("agreement", "--list")
    out = run("agreement", "--coder", "ann", "--coder", "bob", "--bootstrap", "20", "--xlsx", str(tmp_path / "a.xlsx"))
    assert "connectedness" in out and (tmp_path / "a.xlsx").exists()
    assert "disagreement(s)" in run("disagreements", "--coder", "ann", "--coder", "bob")
    table = rigour.disagreements(coded, ["ann", "bob"])
    out = run("reconcile", "--segment", str(table.iloc[0].segment_id), "--code", table.iloc[0].code, "--include",
              "--by", "carla")
    assert "consensus event" in out
    assert "recorded" in run("reconcile", "--coder", "ann", "--coder", "bob", "--side", "ann", "--by", "carla")
    assert "consensus" in run("history", "--coder", "consensus")
    run("framework", "--draft", "--sort-by", "gender", "--xlsx", str(tmp_path / "f.xlsx"), "--html",
        str(tmp_path / "f.html"))
    assert load_workbook(tmp_path / "f.xlsx").sheetnames[0] == "README"
    assert "Guest" in run("saturation", "--include-suggested", "--orders", "20", "--base", "1", "--run", "1",
                          "--plot", str(tmp_path / "s.png"))
    assert (tmp_path / "s.png").read_bytes().startswith(b"\x89PNG")
    bad = runner.invoke(main, ["agreement", *base, "--coder", "ann", "--coder", "ghost"])
    assert bad.exit_code == 1 and "ghost" in bad.output


def test_rigour_sections_go_into_the_report(coded, tmp_path):
    from chimeqda.services import project_report

    sections = rigour.rigour_sections(coded, coders=["ann", "bob"], n_boot=20, n_orders=20)
    assert [title for title, _ in sections] == [
        "Inter-coder agreement", "Framework matrix", "Saturation", "Comparisons by participant attribute"]
    page = project_report(coded, tmp_path / "report", extra_sections=sections).read_text(encoding="utf-8")
    assert "Krippendorff" in page and "Cohen" in page and "data:image/png" in page
