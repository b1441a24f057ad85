"""A machine coder has coded every document its runs covered, also where it suggested nothing.

A run over a document that yields no suggestion means "the machine coded it
and found no code applies"; agreement must count that document's segments
(both coders saying "absent" is agreement), not drop it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sklearn.metrics import cohen_kappa_score
from sqlalchemy import delete, select

from chimeqda.services import (
    add_coding,
    decide,
    import_files,
    pending_suggestions,
    remove_coding,
    rigour,
    run_coder,
)
from chimeqda.store import tables as t
from tests.rigour.conftest import participant_segments

DATA = Path(__file__).parent.parent / "data"
CODED, QUIET = "P01-interview.txt", "P09-interview.txt"

# Nothing in CHIME-D applies here: the lexicon coder suggests nothing.
QUIET_TEXT = """SYNTHETIC TEST TRANSCRIPT (written for chimeqda's tests; no real participant)

I: What did you do this morning?
R: I bought bread at the bakery. Then I took the tram to the station.
I: And after that?
R: The train left at ten. I read the newspaper on the way.
"""


@pytest.fixture
def two_documents(workspace, tmp_path):
    """P01 (the lexicon coder suggests codes) and P09 (it suggests none), one lexicon run over both."""
    folder = tmp_path / "two"
    folder.mkdir()
    (folder / CODED).write_bytes((DATA / CODED).read_bytes())
    (folder / QUIET).write_text(QUIET_TEXT, encoding="utf-8")
    import_files(workspace, [folder])
    run = run_coder(workspace, "lexicon", learn_from_decisions=False)
    with workspace.session() as session:
        ids = dict(session.execute(select(t.Document.name, t.Document.id)).all())
    return workspace, run, ids


@pytest.fixture
def reviewed(two_documents):
    """ann reads both documents: in P01 she accepts all but one suggestion and adds a coding of her own;
    in P09 she codes a segment, then withdraws it (she read it; nothing applies)."""
    ws, run, ids = two_documents
    pending = pending_suggestions(ws, document=CODED)
    decide(ws, [p.event_id for p in pending[1:]], "accepted", by="ann")
    decide(ws, [pending[0].event_id], "rejected", by="ann")
    suggested = {p.segment_id for p in pending}
    own = next(s for s in participant_segments(ws) if s.name == CODED and s.id not in suggested)
    add_coding(ws, own.document_id, own.start, own.end, "hope", by="ann")
    quiet = next(s for s in participant_segments(ws) if s.name == QUIET)
    remove_coding(ws, add_coding(ws, quiet.document_id, quiet.start, quiet.end, "hope", by="ann"), by="ann")
    return ws, run, ids


def test_a_run_records_every_document_it_covered_even_without_suggestions(two_documents):
    ws, run, ids = two_documents
    assert run.suggestions > 0
    with ws.session() as session:
        suggested_in = set(session.scalars(select(t.CodingEvent.document_id).where(
            t.CodingEvent.action == "suggested")))
        rows = session.execute(select(t.CoderRun.run_id, t.CoderRun.document_id, t.CoderRun.coder_id)).all()
        lexicon = session.scalar(select(t.Coder.id).where(t.Coder.kind == "machine", t.Coder.name == "lexicon"))
    assert suggested_in == {ids[CODED]}  # the quiet document got no suggestion ...
    # ... but the run covered it
    assert sorted(rows) == sorted([(run.run_id, ids[CODED], lexicon), (run.run_id, ids[QUIET], lexicon)])


def test_a_run_that_suggests_nothing_still_records_its_coverage(two_documents):
    ws, first, ids = two_documents
    again = run_coder(ws, "lexicon", learn_from_decisions=False, documents=[QUIET])
    assert again.suggestions == 0 and again.run_id != first.run_id
    with ws.session() as session:
        covered = session.scalars(select(t.CoderRun.document_id).where(t.CoderRun.run_id == again.run_id)).all()
    assert covered == [ids[QUIET]]
    assert rigour.coders_frame(ws).set_index("name").loc["lexicon", "documents"] == 2


def test_agreement_counts_the_document_the_machine_covered_without_suggesting(reviewed):
    ws, _, ids = reviewed
    comparison = rigour.compare(ws, ["human:ann", "machine:lexicon"])
    assert comparison.documents == sorted([ids[CODED], ids[QUIET]])
    quiet_units = [s.id for s in participant_segments(ws) if s.name == QUIET]
    assert quiet_units and set(quiet_units) <= set(comparison.segments["unit"])

    result = rigour.agreement(ws, ["human:ann", "machine:lexicon"], n_boot=0)
    overall = result.by_code.set_index("code").loc["(all codes)"]
    n_codes = len(comparison.codes)
    assert overall["units"] == len(comparison.segments) * n_codes
    assert f"{len(comparison.segments)} participant segments of the 2 document(s)" in result.note
    per_document = result.by_document.set_index("document")
    assert per_document.loc[QUIET, "percent_agreement"] == 1.0  # both say: nothing applies

    ratings = rigour.ratings_frame(comparison)
    wide = ratings.pivot_table(index=["unit", "code"], columns="coder", values="present")
    assert overall["kappa"] == pytest.approx(cohen_kappa_score(wide["ann"], wide["lexicon"]))
    only_coded = rigour.agreement(ws, ["human:ann", "machine:lexicon"], documents=[CODED], n_boot=0)
    before = only_coded.by_code.set_index("code").loc["(all codes)"]
    assert overall["units"] > before["units"]  # the quiet document's segments are units now
    assert overall["percent_agreement"] > before["percent_agreement"]
    assert overall["kappa"] != pytest.approx(before["kappa"])


def test_projects_without_run_records_still_use_the_suggestions(reviewed):
    ws, _, ids = reviewed
    with ws.session() as session:  # as a project coded before runs were recorded
        session.execute(delete(t.CoderRun))
    comparison = rigour.compare(ws, ["human:ann", "machine:lexicon"])
    assert comparison.documents == [ids[CODED]]
    assert rigour.coders_frame(ws).set_index("name").loc["lexicon", "documents"] == 1
