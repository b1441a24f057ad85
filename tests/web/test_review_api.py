"""Grouped suggestions, "reviewed: no code", the review queue and the review page, through the HTTP API."""

from __future__ import annotations

from sqlalchemy import func, select

from chimeqda.services import active
from chimeqda.services.coding import run_coder
from chimeqda.services.review import open_flags
from chimeqda.store import tables as t
from chimeqda.web.routes.review import QUEUE_SHOWN


def _pending_connectedness(project, doc_id):
    """Pending connectedness suggestions of the document's turn that has several (the lexicon's repeats)."""
    with project.session() as session:
        rows = session.execute(
            select(t.CodingEvent.id, t.Segment.turn)
            .join(t.Code, t.Code.id == t.CodingEvent.code_id).join(t.Segment, t.Segment.id == t.CodingEvent.segment_id)
            .where(t.CodingEvent.document_id == doc_id, t.CodingEvent.action == "suggested", t.Code.key == "connectedness")
        ).all()
    by_turn: dict[int, list[int]] = {}
    for event_id, turn in rows:
        by_turn.setdefault(turn, []).append(event_id)
    return max(by_turn.values(), key=len)


def test_a_grouped_chip_decides_every_suggestion_it_stands_for_in_one_call(login, project, doc_id):
    group = _pending_connectedness(project, doc_id)
    assert len(group) >= 2
    cora = login("cora")
    response = cora.write("POST", f"/api/projects/{project.project_id}/suggestions/decide",
                          json={"ids": group, "action": "rejected"})
    assert response.status_code == 200, response.text
    events = response.json()["events"]
    assert sorted(e[6] for e in events) == sorted(group) and {e[5] for e in events} == {"rejected"}
    with project.session() as session:
        decided = session.scalars(select(t.CodingEvent.decides_id).where(t.CodingEvent.action == "rejected")).all()
    assert sorted(decided) == sorted(group)


def test_a_grouped_decision_with_one_unknown_id_changes_nothing(login, project, doc_id):
    group = _pending_connectedness(project, doc_id)
    cora = login("cora")
    response = cora.write("POST", f"/api/projects/{project.project_id}/suggestions/decide",
                          json={"ids": [*group, 999999], "action": "accepted"})
    assert response.status_code == 404 and "999999" in response.json()["detail"]
    with project.session() as session:
        assert session.scalar(select(func.count()).select_from(t.CodingEvent)
                              .where(t.CodingEvent.action != "suggested")) == 0
    viewer = login("vera")  # reading is not deciding
    assert viewer.write("POST", f"/api/projects/{project.project_id}/suggestions/decide",
                        json={"ids": group, "action": "accepted"}).status_code == 403


def _flagged_project(project):
    """A second run at precision 0.9 flags the empty sentences where some code has p ≥ 0.1."""
    run = run_coder(project, "lexicon", precision=0.9)
    assert run.flagged > 0
    return open_flags(project)


def test_reviewed_no_code_in_the_document_view(login, project, doc_id):
    flags = [f for f in _flagged_project(project) if f.document_id == doc_id]
    assert flags
    cora = login("cora")
    payload = cora.get(f"/api/documents/{doc_id}").json()
    assert [f.segment_id for f in flags] == [row[0] for row in payload["flags"]]
    assert all(len(segment) == 5 for segment in payload["segments"])  # [start, end, time_start, time_end, id]
    target = flags[0].segment_id
    state = cora.write("POST", f"/api/documents/{doc_id}/no-code", json={"segments": [target]}).json()
    assert state["no_code"] == [target] and target not in [row[0] for row in state["flags"]]
    assert target not in {f.segment_id for f in open_flags(project)}
    again = cora.write("POST", f"/api/documents/{doc_id}/no-code", json={"segments": [target], "undo": True}).json()
    assert again["no_code"] == [] and target in [row[0] for row in again["flags"]]
    with project.session() as session:
        assert session.scalars(select(t.SegmentReview.action).order_by(t.SegmentReview.id)).all() == [
            "no_code", "reopened"]


def test_no_code_refuses_a_sentence_of_another_document(login, project, doc_id):
    with project.session() as session:
        other = session.scalar(select(t.Segment.id).where(t.Segment.document_id != doc_id))
    cora = login("cora")
    response = cora.write("POST", f"/api/documents/{doc_id}/no-code", json={"segments": [other]})
    assert response.status_code == 404 and "this document" in response.json()["detail"]
    assert login("vera").write("POST", f"/api/documents/{doc_id}/no-code", json={"segments": [other]}).status_code == 403


def test_the_review_queue_is_ordered_by_expected_value(login, project, doc_id):
    _flagged_project(project)
    queue = login("cora").get(f"/api/documents/{doc_id}/review-queue").json()["queue"]
    values = [item["value"] for item in queue]
    assert values == sorted(values, reverse=True) and len(queue) > 1
    assert any(item["flag"] for item in queue) and any(item["suggestions"] for item in queue)


def test_the_review_page_shows_the_reliability_diagram_and_the_queue(login, project, doc_id):
    cora = login("cora")
    group = _pending_connectedness(project, doc_id)
    cora.write("POST", f"/api/suggestions/{group[0]}/decide", json={"action": "accepted"})
    cora.write("POST", f"/api/suggestions/{group[1]}/decide", json={"action": "rejected"})
    page = cora.get(f"/projects/{project.project_id}/review")
    assert page.status_code == 200
    html = page.text
    assert "2 decided (1 accepted)" in html and "<svg" in html and "<circle" in html
    assert "reviewed: no code" in html and 'id="queue"' in html and "P01-interview.txt" in html
    waiting = active.queue_length(project, by="cora")
    assert waiting > 0 and f"{waiting} sentences wait for a decision" in html
    assert html.count("<tr>\n  <td class=\"num\">") == min(waiting, QUEUE_SHOWN)


def test_a_coder_draws_a_verification_sample_on_the_review_page(login, project):
    from chimeqda.services.verification import verification_sample

    cora = login("cora")
    before = cora.get(f"/projects/{project.project_id}/review").text
    assert "No verification sample yet" in before and 'id="verification-draw"' in before
    drawn = cora.write("POST", f"/projects/{project.project_id}/review/sample", data={"per_code": "2", "seed": "5",
                                                                                     "csrf_token": cora.csrf})
    assert drawn.status_code == 303
    sample = verification_sample(project)
    assert sample.definition.per_code == 2 and sample.definition.seed == 5
    page = cora.get(f"/projects/{project.project_id}/review").text
    assert "2 suggestions of each code of lexicon" in page and 'id="verification-table"' in page
    waiting = page.split('id="verification-waiting"', 1)[1].split("</ul>", 1)[0]
    assert waiting.count("<li>") == len(sample.undecided) > 0
    assert f"/projects/{project.project_id}/documents/" in waiting
    cora.write("POST", f"/api/suggestions/{sample.undecided[0]}/decide", json={"action": "accepted"})
    after = cora.get(f"/projects/{project.project_id}/review").text
    assert "1.00 [" in after  # one decided, accepted: its code's estimate appears
    viewer = login("vera").get(f"/projects/{project.project_id}/review").text
    assert 'id="verification-table"' in viewer and 'id="verification-draw"' not in viewer


def test_chimeqda_next_and_the_review_page_serve_the_same_first_sentences(login, project, doc_id):
    """One rule, one order: the CLI reads the stored queue the web's review page shows."""
    import html as html_lib
    import re

    from click.testing import CliRunner

    from chimeqda.cli import main

    _flagged_project(project)  # suggestions and open flags both wait
    cora = login("cora")
    group = _pending_connectedness(project, doc_id)
    cora.write("POST", f"/api/suggestions/{group[0]}/decide", json={"action": "rejected"})
    page = cora.get(f"/projects/{project.project_id}/review").text.split('id="queue"', 1)[1]
    rows = re.findall(r'<td class="num">([0-9.]+)</td>\s*<td>.*?</td>\s*<td>(.*?)</td>', page, flags=re.S)
    result = CliRunner().invoke(main, ["next", "-p", str(project.directory), "--db",
                                       project.engine.url.render_as_string(hide_password=False), "-n", "8",
                                       "--no-agreement"])
    assert result.exit_code == 0, result.output
    assert "From the stored queue" in result.output
    lines = result.output.splitlines()
    served = [(re.search(r"correct ([0-9.]+) machine", line).group(1), lines[i + 1].strip())
              for i, line in enumerate(lines) if line.startswith("segment ")]
    assert len(served) == 8 and any("flagged" in line for line in lines if line.startswith("segment "))
    assert served == [(value, html_lib.unescape(text)) for value, text in rows[:8]]
