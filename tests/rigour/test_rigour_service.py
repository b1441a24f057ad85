"""Agreement from the event log, reconciliation and replay, on a real project database."""

from __future__ import annotations

import krippendorff
import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score
from sqlalchemy import select

from chimeqda.errors import InvalidInput, UnknownObject
from chimeqda.services import codings_frame, pending_suggestions, remove_coding, rigour
from chimeqda.store import tables as t


def _all_events(ws):
    with ws.session() as session:
        return {
            e.id: (e.document_id, e.segment_id, e.start, e.end, e.code_id, e.coder_id, e.action, e.decides_id,
                   e.score, e.evidence, e.run_id)
            for e in session.scalars(select(t.CodingEvent))
        }


def test_a_person_is_credited_with_suggestions_they_accepted_and_the_machine_with_all_it_suggested(coded):
    comparison = rigour.compare(coded, ["ann", "lexicon"])
    history = rigour.coding_history(coded)
    accepted = history[(history["coder"] == "ann") & (history["action"] == "accepted")
                       & history["decides_id"].notna()].iloc[0]
    suggestion = history.set_index("event_id").loc[int(accepted["decides_id"])]
    ann = comparison.codings["ann"]
    assert int(accepted["event_id"]) in set(ann["event_id"])  # the accepting event is ann's
    machine = comparison.codings["lexicon"]
    rejected = history[(history["coder"] == "ann") & (history["action"] == "rejected")].iloc[0]
    # every suggestion is the machine's, the accepted and the rejected one included
    assert {int(accepted["decides_id"]), int(rejected["decides_id"])} <= set(machine["event_id"])
    assert suggestion["coder"] == "lexicon"


def test_units_are_participant_segments_of_documents_every_coder_coded(coded):
    both = rigour.compare(coded, ["ann", "bob"])
    with coded.session() as session:
        names = dict(session.execute(select(t.Document.id, t.Document.name)).all())
    assert [names[d] for d in both.documents] == ["P01-interview.txt"]
    chosen = rigour.compare(coded, ["ann", "bob"], documents=["P01-interview.txt", "P02-interview.txt"])
    assert len(chosen.documents) == 2 and len(chosen.segments) > len(both.segments)
    with coded.session() as session:
        roles = set(session.scalars(select(t.Segment.role).where(t.Segment.id.in_(list(both.segments["unit"])))))
    assert "interviewer" not in roles


def test_agreement_service_equals_the_packages_on_its_ratings(coded):
    result = rigour.agreement(coded, ["ann", "bob"], n_boot=50)
    ratings = rigour.ratings_frame(rigour.compare(coded, ["ann", "bob"]))
    by_code = result.by_code.set_index("code")
    for code in ("connectedness", "hope", "difficulties"):
        wide = ratings[ratings["code"] == code].pivot(index="unit", columns="coder", values="present")
        assert by_code.loc[code, "kappa"] == pytest.approx(cohen_kappa_score(wide["ann"], wide["bob"]), nan_ok=True)
        assert round(by_code.loc[code, "alpha"], 3) == round(
            krippendorff.alpha(wide[["ann", "bob"]].T.to_numpy(), level_of_measurement="nominal"), 3)
    assert set(result.tables()) == {"agreement_by_code", "agreement_by_document", "agreement_pairwise",
                                    "agreement_characters"}
    assert len(result.pairwise) == 1 and "ann" in result.note


def test_three_coders_with_missing_documents_use_alpha_with_missing_data(coded):
    from chimeqda.services import add_coding
    from tests.rigour.conftest import participant_segments

    p02 = [s for s in participant_segments(coded) if s.name == "P02-interview.txt"][1]
    add_coding(coded, p02.document_id, p02.start, p02.end, "connectedness", by="bob")  # ann never read P02
    result = rigour.agreement(coded, ["ann", "bob", "lexicon"], rule="any", n_boot=0)
    overall = result.by_code.set_index("code").loc["(all codes)"]
    assert np.isnan(overall["kappa"]) and not np.isnan(overall["alpha"])
    ratings = rigour.ratings_frame(rigour.compare(coded, ["ann", "bob", "lexicon"], rule="any"))
    assert ratings["present"].isna().any()  # ann did not code P02
    wide = ratings.pivot_table(index=["unit", "code"], columns="coder", values="present", dropna=False)
    assert overall["alpha"] == pytest.approx(krippendorff.alpha(wide.T.to_numpy(), level_of_measurement="nominal"))


def test_rule_any_compares_the_documents_at_least_two_coders_coded(coded):
    from chimeqda.services import add_coding
    from tests.rigour.conftest import participant_segments

    first = {}
    for segment in participant_segments(coded):
        first.setdefault(segment.name, segment)
    p01, p02 = first["P01-interview.txt"], first["P02-interview.txt"]
    add_coding(coded, p01.document_id, p01.start, p01.end, "hope", by="carla")  # carla read P01 only
    add_coding(coded, p02.document_id, p02.start, p02.end, "hope", by="dave")  # dave read P02 only
    assert rigour.compare(coded, ["carla", "dave"], rule="any").documents == []
    with pytest.raises(InvalidInput, match="no document in common"):
        rigour.agreement(coded, ["carla", "dave"], rule="any", n_boot=0)
    three = rigour.compare(coded, ["carla", "dave", "lexicon"], rule="any")  # the machine covered both
    assert three.documents == sorted([p01.document_id, p02.document_id])
    assert three.rated == {"carla": {p01.document_id}, "dave": {p02.document_id},
                           "lexicon": {p01.document_id, p02.document_id}}


def test_unknown_and_ambiguous_coders_are_explained(coded):
    with pytest.raises(UnknownObject):
        rigour.agreement(coded, ["ann", "nobody"])
    with pytest.raises(InvalidInput):
        rigour.agreement(coded, ["ann", "ann"])


def test_reconciliation_never_deletes_or_overwrites_an_original_coding(coded):
    before = _all_events(coded)
    agreement_before = rigour.agreement(coded, ["ann", "bob"], n_boot=0).by_code
    table = rigour.disagreements(coded, ["ann", "bob"])
    assert len(table) >= 2 and set(table["consensus"]) == {""}
    first, second = table.iloc[0], table.iloc[1]
    include = rigour.reconcile(coded, int(first.segment_id), first.code, "include", by="carla", note="fits")
    exclude = rigour.reconcile(coded, int(second.segment_id), second.code, "exclude", by="carla")
    assert rigour.reconcile(coded, int(first.segment_id), first.code, "include", by="carla") is None
    changed = rigour.reconcile(coded, int(first.segment_id), first.code, "exclude", by="carla")

    after = _all_events(coded)
    assert {k: after[k] for k in before} == before  # every original row is untouched
    assert set(after) - set(before) == {include, exclude, changed}
    history = rigour.coding_history(coded).set_index("event_id")
    assert history.loc[include, "coder"] == "consensus" and history.loc[include, "action"] == "accepted"
    assert "carla" in history.loc[include, "evidence"]
    for original in first.event_ids.split(", "):
        assert f"#{original}" in history.loc[include, "evidence"]
    assert history.loc[exclude, "action"] == "rejected" and np.isnan(history.loc[exclude, "decides_id"])
    assert history.loc[changed, "action"] == "removed" and history.loc[changed, "decides_id"] == include

    # the originals' agreement is unchanged and the decisions show in the listing
    after_table = rigour.agreement(coded, ["ann", "bob"], n_boot=0).by_code
    assert after_table.equals(agreement_before)
    listing = rigour.disagreements(coded, ["ann", "bob"]).set_index(["segment_id", "code"])
    assert listing.loc[(first.segment_id, first.code), "consensus"] == "exclude"
    assert listing.loc[(second.segment_id, second.code), "consensus"] == "exclude"
    assert len(rigour.disagreements(coded, ["ann", "bob"], open_only=True)) == len(table) - 2


def test_settling_by_one_side_gives_a_complete_consensus_coding(coded):
    recorded = rigour.reconcile_disagreements(coded, ["ann", "bob"], side="bob", by="carla")
    assert recorded > 0
    assert rigour.disagreements(coded, ["ann", "bob"], open_only=True).empty
    # the consensus now codes exactly what bob coded on the compared documents
    result = rigour.agreement(coded, ["bob", "consensus"], n_boot=0)
    assert result.by_code.set_index("code").loc["(all codes)", "percent_agreement"] == 1.0
    # and it can be compared with anyone, machine included
    assert len(rigour.agreement(coded, ["consensus", "lexicon"], n_boot=0).by_code) == 7
    # settling again records nothing
    assert rigour.reconcile_disagreements(coded, ["ann", "bob"], side="bob", by="carla") == 0


def test_the_whole_history_replays_to_the_current_state(coded):
    table = rigour.disagreements(coded, ["ann", "bob"])
    rigour.reconcile(coded, int(table.iloc[0].segment_id), table.iloc[0].code, "include", by="carla")
    ann_coding = rigour.coding_history(coded).query("coder == 'ann' and action == 'accepted'").iloc[0]
    remove_coding(coded, int(ann_coding.event_id), by="ann")

    history = rigour.coding_history(coded)
    state = rigour.replay(history)
    with coded.session() as session:
        removed = set(session.scalars(select(t.CodingEvent.decides_id).where(t.CodingEvent.action == "removed")))
        accepted = set(session.scalars(select(t.CodingEvent.id).where(t.CodingEvent.action == "accepted")))
    assert set(state.loc[state["status"] == "accepted", "event_id"]) == accepted - removed
    live = codings_frame(coded)  # the analysis frame reads the same state
    assert set(live["event_id"]) <= accepted - removed
    assert set(state.loc[state["status"] == "suggested", "event_id"]) == {
        p.event_id for p in pending_suggestions(coded)}
    assert int(ann_coding.event_id) not in set(state["event_id"])
    # replaying up to the event before the removal brings the coding back
    removal = int(history.loc[history["decides_id"] == ann_coding.event_id, "event_id"].iloc[0])
    earlier = rigour.replay(history, until=removal - 1)
    assert int(ann_coding.event_id) in set(earlier.loc[earlier["status"] == "accepted", "event_id"])
