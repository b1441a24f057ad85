"""Active learning on a real project database: what to decide next, and the estimated agreement."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from chimeqda.coders import get_coder
from chimeqda.services import add_coding, decide, import_files, pending_suggestions, run_coder
from chimeqda.services.active import estimated_agreement, next_for_review
from chimeqda.services.project import project_codebook
from chimeqda.store import tables as t


@pytest.fixture
def project(workspace, transcripts):
    import_files(workspace, [transcripts])
    return workspace


def _segments(ws):
    with ws.session() as session:
        return {s.id: s for s in session.scalars(select(t.Segment).order_by(t.Segment.id))}


def test_served_segments_are_undecided_participant_segments_most_useful_first(project):
    segments = _segments(project)
    items = next_for_review(project, coder="lexicon", n=5)
    with project.session() as session:
        lexicon = get_coder("lexicon").fit(project_codebook(session, project.project_id)[1])
        language = {d.id: d.language for d in session.scalars(select(t.Document))}
    assert 1 <= len(items) <= 5
    assert len({i.segment_id for i in items}) == len(items)
    for item in items:
        assert segments[item.segment_id].role == "participant"
        assert item.text == segments[item.segment_id].text
        assert item.document.endswith(".txt") and item.code in item.scores
        assert 0.0 <= item.uncertainty <= 1.0
        # The expected number of machine labels a decision corrects: p for a code left out, 1 - p for one suggested.
        limits = lexicon.thresholds(language[segments[item.segment_id].document_id])
        expected = sum(1 - p if p >= limits[c] else p for c, p in item.scores.items())
        assert item.expected_value == pytest.approx(expected) and 0 < expected <= len(item.scores)
    values = [i.expected_value for i in items]
    assert values == sorted(values, reverse=True)


def test_a_decided_segment_is_not_served_again(project):
    first = next_for_review(project, coder="lexicon")[0]
    seg = _segments(project)[first.segment_id]
    add_coding(project, seg.document_id, seg.start, seg.end, first.code, by="ann")
    served = {i.segment_id for i in next_for_review(project, coder="lexicon", n=50)}
    assert first.segment_id not in served and served
    everything = {i.segment_id for i in next_for_review(project, coder="lexicon", n=50, exclude_decided=False)}
    assert first.segment_id in everything

    # a rejected machine suggestion is a decision too
    run_coder(project, "lexicon")
    pending = [p for p in pending_suggestions(project) if p.segment_id in served]
    assert pending
    decide(project, [pending[0].event_id], "rejected", by="ann")
    again = {i.segment_id for i in next_for_review(project, coder="lexicon", n=50)}
    assert pending[0].segment_id not in again


def test_estimated_agreement_needs_enough_decisions(project):
    estimate = estimated_agreement(project, coder="lexicon")
    assert estimate.per_code is None and estimate.decided == 0 and "20" in estimate.reason
    assert "not available" in estimate.summary()

    segments = list(_segments(project).values())
    assert len(segments) >= 20
    codes = ["hope", "connectedness", "meaning"]
    for i, seg in enumerate(segments):
        add_coding(project, seg.document_id, seg.start, seg.end, codes[i % len(codes)], by="ann")
    estimate = estimated_agreement(project, coder="lexicon")
    assert estimate.decided == len(segments)
    frame = estimate.per_code
    assert frame is not None and estimate.folds == 2
    assert set(codes) <= set(frame.index)
    assert frame["kappa"].between(-1, 1).all()
    assert int(frame.loc["hope", "support"]) == sum(1 for i in range(len(segments)) if i % 3 == 0)
    assert "macro κ" in estimate.summary()


def test_next_command_prints_items_and_agreement(project):
    from click.testing import CliRunner

    from chimeqda.cli import main

    result = CliRunner().invoke(main, ["next", "-p", str(project.directory), "--db",
                                       project.engine.url.render_as_string(hide_password=False), "--coder", "lexicon",
                                       "-n", "2"])
    assert result.exit_code == 0, result.output
    assert [line for line in result.output.splitlines() if line.startswith("segment ")].__len__() == 2
    assert "expected to correct" in result.output
    assert "estimated agreement (lexicon): not available" in result.output
    assert "Refitting the lexicon coder" in result.output and "no run of the lexicon coder is stored" in result.output


def _next(project, *args):
    from click.testing import CliRunner

    from chimeqda.cli import main

    result = CliRunner().invoke(main, ["next", "-p", str(project.directory), "--db",
                                       project.engine.url.render_as_string(hide_password=False), "--no-agreement",
                                       *args])
    assert result.exit_code == 0, result.output
    served = [int(line.split()[1]) for line in result.output.splitlines() if line.startswith("segment ")]
    return served, result.output


def test_next_serves_the_stored_queue_without_refitting(project):
    from chimeqda.services.active import queue_state, stored_next, stored_queue

    run_coder(project, "lexicon")
    state = queue_state(project)
    assert state.fresh and state.coder == "lexicon" and state.decisions_since == 0
    served, output = _next(project, "-n", "4")
    assert "From the stored queue: the lexicon coder's probabilities" in output and "Refitting" not in output
    assert served == [item.segment_id for item in stored_queue(project, limit=4)]
    assert [i.segment_id for i in stored_next(project, n=4)] == served
    # It reads the stored probabilities: a stored suggestion made very unsure comes first (a refit would not know).
    last = stored_queue(project)[-1]
    with project.session() as session:
        session.execute(t.table(t.CodingEvent).update().where(t.CodingEvent.action == "suggested").values(score=0.99))
        session.execute(t.table(t.CodingEvent).update().where(t.CodingEvent.id.in_(last.suggestions))
                        .values(score=0.01))
    served, _ = _next(project, "-n", "1")
    assert served == [last.segment_id]
    first = stored_next(project, n=1)[0]
    assert first.expected_value == pytest.approx(0.99 * len(last.suggestions)) and first.score == pytest.approx(0.01)

    # A decision takes the segment out of the queue at once, and is counted as not yet learnt from.
    decide(project, list(last.suggestions), "rejected", by="ann")
    served, output = _next(project, "-n", "3")
    assert last.segment_id not in served and served
    assert queue_state(project).decisions_since == len(last.suggestions)
    assert f"{len(last.suggestions)} decision(s) made since" in output

    # --refit still refits (and serves the undecided segments by the full rule).
    served, output = _next(project, "-n", "3", "--refit", "--coder", "lexicon")
    assert "Refitting the lexicon coder" in output and "(--refit)" in output
    assert served == [i.segment_id for i in next_for_review(project, coder="lexicon", n=3)]


def test_next_refits_when_the_stored_queue_is_stale_or_of_another_coder(project, tmp_path):
    from chimeqda.services.active import queue_state

    run_coder(project, "lexicon")
    assert not queue_state(project, coder="similarity").fresh
    assert "no run of the similarity coder" in queue_state(project, coder="similarity").reason
    new = tmp_path / "later"
    new.mkdir()
    (new / "P09-late.txt").write_text("I: How is it going?\nR: I found hope again after the group met on Tuesday.\n",
                                      encoding="utf-8")
    import_files(project, [new])
    state = queue_state(project)
    assert not state.fresh and "1 document(s) were imported after the last" in state.reason
    served, output = _next(project, "-n", "2")
    assert "Refitting the lexicon coder" in output  # the coder of the stored run, not the default
    assert "imported after the last `chimeqda code`" in output and len(served) == 2
    run_coder(project, "lexicon")
    assert queue_state(project).fresh


def test_a_revised_document_keeps_the_stored_queue_fresh(project):
    """Pseudonymising or correcting a document carries its runs, suggestions and flags: no refit is needed."""
    from chimeqda.services.active import queue_state, stored_queue
    from chimeqda.services.revisions import revise_document

    run_coder(project, "lexicon")
    before = [(item.expected_value, len(item.suggestions)) for item in stored_queue(project)]
    with project.session() as session:
        doc_id = session.scalar(select(t.Document.id).where(t.Document.name == "P01-interview.txt"))
    revise_document(project, doc_id, [(0, 0, "Note. ")], reason="test", user="ann")
    assert queue_state(project).fresh
    served, output = _next(project, "-n", "3")
    assert "From the stored queue" in output and len(served) == 3
    assert [(item.expected_value, len(item.suggestions)) for item in stored_queue(project)] == before


def test_refitting_reads_the_project_in_pages_with_the_same_result(project):
    whole = next_for_review(project, coder="lexicon", n=6)
    paged = next_for_review(project, coder="lexicon", n=6, page_segments=3)
    assert [i.segment_id for i in paged] == [i.segment_id for i in whole] and len(whole) == 6
    assert [i.expected_value for i in paged] == pytest.approx([i.expected_value for i in whole])
    assert [i.scores for i in paged] == [i.scores for i in whole]


def test_the_project_keeps_its_segment_vectors_for_the_next_call(project):
    """The second `next` does not re-encode the transcripts: their vectors are in <project>/cache."""
    from chimeqda.coders.encoders import get_encoder

    params = {"nl_encoder": None, "k": 5}
    first = next_for_review(project, coder="similarity", n=3, params=params)
    kept = list((project.directory / "cache").glob("vectors-*.npz"))
    assert len(kept) == 1
    encoder = get_encoder("minilm")
    with encoder._cache_lock:
        encoder._cache.clear()
    encoded: list[str] = []
    original = encoder._encode
    encoder._encode = lambda texts: (encoded.extend(texts), original(texts))[1]
    try:
        again = next_for_review(project, coder="similarity", n=3, params=params)
    finally:
        del encoder._encode
    assert [i.segment_id for i in again] == [i.segment_id for i in first]
    segments = {s.text for s in _segments(project).values()}
    assert not segments & set(encoded), "transcript segments were encoded again"
