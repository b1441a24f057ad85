"""A project over the size limit: every ``analyse`` table and the report, counted by the database,
equal the pandas path (SQLite, or PostgreSQL with CHIMEQDA_TEST_DATABASE_URL)."""

from __future__ import annotations

import pandas as pd
import pytest
from click.testing import CliRunner
from corpora import corpus_rows, write_jsonl

from chimeqda import analysis
from chimeqda.cli import main
from chimeqda.services import (
    codings_frame,
    decide,
    participants_frame,
    pending_suggestions,
    run_coder,
    segments_frame,
)
from chimeqda.services.corpus import import_corpus
from chimeqda.services.frames import attribute_frequencies, document_attributes_frame
from chimeqda.services.project import project_codebook
from chimeqda.services.reporting import findings_report
from chimeqda.services.sql_tables import (
    document_attribute_names,
    sql_cooccurrence,
    sql_frequencies_by_attribute,
    sql_participant_matrix,
    sql_quotes,
)


@pytest.fixture
def corpus_project(workspace, tmp_path):
    """40 forum posts (forum, year; some rows without a year), coded by the lexicon coder, some accepted."""
    rows = corpus_rows(40)
    for row in rows[::7]:
        del row["year"]
    import_corpus(workspace, write_jsonl(tmp_path / "posts.jsonl", rows))
    run_coder(workspace, "lexicon")
    pending = pending_suggestions(workspace)
    assert len(pending) > 20
    decide(workspace, [p.event_id for p in pending[::3]], "accepted", by="ann")
    with workspace.session() as session:
        _, book = project_codebook(session, workspace.project_id)
    return workspace, book


@pytest.mark.parametrize("window", [1, 2])
@pytest.mark.parametrize("level", ["root", "all"])
def test_cooccurrence_in_windows_equals_pandas(coded, window, level):
    ws, book = coded
    for include_suggested in (False, True):
        codings = codings_frame(ws, include_suggested=include_suggested)
        expected = analysis.cooccurrence(codings, book, segments=segments_frame(ws), window=window, level=level,
                                         include_suggested=include_suggested)
        assert expected["n_ab"].sum() > 0
        got = sql_cooccurrence(ws, book, window=window, level=level, include_suggested=include_suggested)
        pd.testing.assert_frame_equal(got, expected)
    same_segment = sql_cooccurrence(ws, book, window=0, level=level, include_suggested=True)
    assert (got["n_a"] >= same_segment["n_a"]).all() and got["n_a"].sum() > same_segment["n_a"].sum()


@pytest.mark.parametrize("include_suggested", [False, True])
def test_matrix_and_quotes_equal_pandas(coded, include_suggested):
    ws, book = coded
    codings = codings_frame(ws, include_suggested=include_suggested)
    people = participants_frame(ws)
    options = {"include_suggested": include_suggested}
    expected = analysis.code_participant_matrix(codings, book, people, **options)
    assert expected.to_numpy().sum() > 0
    pd.testing.assert_frame_equal(sql_participant_matrix(ws, book, **options), expected)
    for level in ("root", "code"):
        expected = analysis.exemplar_quotes(codings, book, level=level, **options)
        assert len(expected)
        pd.testing.assert_frame_equal(sql_quotes(ws, book, level=level, **options), expected)


def test_quotes_of_a_sample_are_fixed_and_from_the_code(coded):
    ws, book = coded
    first = sql_quotes(ws, book, include_suggested=True, sample=2)
    assert len(first) and first.groupby("code").size().max() <= 3
    pd.testing.assert_frame_equal(first, sql_quotes(ws, book, include_suggested=True, sample=2))
    everything = analysis.coded_segments(codings_frame(ws, include_suggested=True), book, include_suggested=True)
    pairs = set(zip(everything["segment_id"], everything["code"]))
    assert all((s, c) in pairs for s, c in zip(first["segment_id"], first["code"]))


@pytest.mark.parametrize("level", ["root", "code"])
def test_document_attributes_of_corpus_rows_are_tabulated(corpus_project, level):
    ws, book = corpus_project
    assert document_attribute_names(ws) == ["forum", "year"]
    for include_suggested in (False, True):
        codings = codings_frame(ws, include_suggested=include_suggested)
        options = {"level": level, "include_suggested": include_suggested}
        for attribute in ("forum", "year"):
            expected = attribute_frequencies(ws, codings, book, participants_frame(ws), attribute, **options)
            assert expected["documents"].sum() > 0 and "documents_in_group" in expected
            got = sql_frequencies_by_attribute(ws, book, attribute, **options)
            pd.testing.assert_frame_equal(got, expected)
    year = sql_frequencies_by_attribute(ws, book, "year")
    assert list(year["group"].cat.categories)[-1] == "unknown"  # rows without a year
    sizes = year.drop_duplicates("group")["documents_in_group"]
    assert sizes.sum() == len(document_attributes_frame(ws)) == 40
    with pytest.raises(ValueError, match="no document has the attribute 'colour'"):
        sql_frequencies_by_attribute(ws, book, "colour")


def _run(args):
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    return result.output


def test_every_analyse_table_of_a_large_project_prints_as_the_small_one(coded, monkeypatch, db_url, tmp_path):
    ws, _ = coded
    project = ["-p", str(ws.directory), "--db", db_url]
    commands = [["frequencies"], ["matrix"], ["cooccurrence", "--window", "1"], ["cooccurrence"],
                ["linked", "--window", "2"], ["quotes", "--level", "code"], ["by-attribute", "--attribute", "gender"],
                ["frequencies", "--include-suggested", "--level", "all"]]
    small = [_run(["analyse", *c, *project]) for c in commands]
    _run(["analyse", "segments", *project, "--include-suggested", "--csv", str(tmp_path / "small.csv")])
    monkeypatch.setenv("CHIMEQDA_LARGE_PROJECT", "5")
    large = [_run(["analyse", *c, *project]) for c in commands]
    assert large == small
    shown = _run(["analyse", "segments", *project, "--include-suggested", "--csv", str(tmp_path / "large.csv")])
    assert "coded segment rows" in shown
    assert (tmp_path / "large.csv").read_text() == (tmp_path / "small.csv").read_text()


def test_the_report_of_a_large_project_has_the_same_tables(coded, monkeypatch):
    ws, _ = coded
    small = findings_report(ws, include_suggested=True, n_boot=20, n_orders=20)
    monkeypatch.setenv("CHIMEQDA_LARGE_PROJECT", "5")
    large = findings_report(ws, include_suggested=True, n_boot=20, n_orders=20)
    assert large.tables().keys() == small.tables().keys()
    for name, table in small.tables().items():
        pd.testing.assert_frame_equal(large.tables()[name], table, obj=name)
    assert [title for title, _ in large.extra_sections] == [title for title, _ in small.extra_sections]
    assert large.summary == small.summary
    assert any("counted by the database" in note for note in large.methods)
    assert [m for m in large.methods if "counted by the database" not in m] == small.methods


def test_report_command_on_a_large_corpus(corpus_project, monkeypatch, db_url, tmp_path):
    ws, _ = corpus_project
    monkeypatch.setenv("CHIMEQDA_LARGE_PROJECT", "5")
    output = _run(["report", "-p", str(ws.directory), "--db", db_url, "--out", str(tmp_path / "report")])
    assert "Report:" in output
    html = (tmp_path / "report" / "report.html").read_text(encoding="utf-8")
    assert "Documents mentioning each category, by forum" in html and "counted by the database" in html
    assert (tmp_path / "report" / "tables" / "by_year.csv").exists() or any(
        (tmp_path / "report").rglob("by_year.csv"))


def test_agreement_over_more_shared_documents_than_it_holds_says_how_to_choose_them(corpus_project, monkeypatch):
    from sqlalchemy import select

    from chimeqda.errors import InvalidInput
    from chimeqda.services import agreement as agreement_service
    from chimeqda.services import comparison
    from chimeqda.store import tables as t

    ws, _ = corpus_project
    with ws.session() as session:
        names = sorted(session.scalars(select(t.Document.name)))
    coders = ["human:ann", "machine:lexicon"]
    monkeypatch.setattr(comparison, "IN_LIST", 12)  # the limit (20,000 documents), small enough to reach
    with pytest.raises(InvalidInput, match=r"share 40 coded documents; agreement compares at most 12 .*--document"):
        agreement_service.agreement(ws, coders, documents=names, n_boot=10)
    result = agreement_service.agreement(ws, coders, documents=names[:12], n_boot=10)
    assert result.settings["documents"] and len(result.settings["documents"]) == 12
