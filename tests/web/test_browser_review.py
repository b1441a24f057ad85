"""In a real browser: one chip per code per turn with "×N sentences", deciding all it stands for;
flagged sentences and "reviewed: no code"; review mode in the order of the expected value of a decision."""

from __future__ import annotations

import pytest
from live_server import chromium, have_chromium, running, until
from sqlalchemy import select
from test_browser import SCREENSHOTS

from chimeqda.services.active import stored_queue
from chimeqda.services.coding import run_coder
from chimeqda.services.review import open_flags
from chimeqda.store import tables as t
from chimeqda.web import create_app

pytestmark = pytest.mark.skipif(not have_chromium(), reason="needs playwright and /usr/bin/chromium")


@pytest.fixture
def live(project, people):
    run_coder(project, "lexicon", precision=0.9)  # flags the sentences left empty where a code has p ≥ 0.1
    app = create_app(project.engine, poll_seconds=0.4)
    with running(app) as base, chromium() as browser:
        yield app, base, browser


def _open(browser, base, app, doc_id, project_id, name="cora"):
    page = browser.new_context(viewport={"width": 1440, "height": 900}).new_page()
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    page.goto(f"{base}/login/link?token={app.state.login_links.issue(name)}")
    page.goto(f"{base}/projects/{project_id}/documents/{doc_id}")
    page.wait_for_selector("#docview[data-loaded='1']")
    return page


def _connectedness_turns(project, doc_id):
    with project.session() as session:
        rows = session.execute(
            select(t.CodingEvent.id, t.Segment.turn).join(t.Code, t.Code.id == t.CodingEvent.code_id)
            .join(t.Segment, t.Segment.id == t.CodingEvent.segment_id)
            .where(t.CodingEvent.document_id == doc_id, t.CodingEvent.action == "suggested",
                   t.Code.key == "connectedness")
        ).all()
    turns: dict[int, list[int]] = {}
    for event_id, turn in rows:
        turns.setdefault(turn, []).append(event_id)
    return turns


def test_a_grouped_chip_shows_once_expands_and_rejects_all_it_stands_for(live, project, doc_id):
    app, base, browser = live
    turn, ids = max(_connectedness_turns(project, doc_id).items(), key=lambda item: len(item[1]))
    assert len(ids) >= 2
    page = _open(browser, base, app, doc_id, project.project_id)
    row = page.locator(f"#turn-{turn}")
    chips = row.locator(".margin .chip.suggestion >> text=Connectedness")
    assert chips.count() == 1  # one chip per code per turn, not one per sentence
    group = row.locator(".chip.suggestion.group[data-code='connectedness']")
    assert group.get_attribute("data-count") == str(len(ids))
    assert f"×{len(ids)} sentences" in group.inner_text()
    score = group.locator(".score").inner_text()
    assert score and score != "0.50"  # calibrated, not a constant

    group.locator("button.expand").click()
    page.wait_for_selector(f"#turn-{turn} .chip.member")
    assert row.locator(".chip.member").count() == len(ids)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "grouped-suggestions.png"))
    group.locator("button.reject").click()
    until(page, f"() => !document.querySelector('#turn-{turn} .chip.suggestion[data-code=\"connectedness\"]')")
    with project.session() as session:
        rejected = session.scalars(select(t.CodingEvent.decides_id).where(t.CodingEvent.action == "rejected")).all()
    assert sorted(rejected) == sorted(ids)
    assert page.errors == []


def test_a_flagged_sentence_is_marked_reviewed_no_code_and_review_mode_serves_flags(live, project, doc_id):
    app, base, browser = live
    flags = [f for f in open_flags(project) if f.document_id == doc_id]
    assert len(flags) >= 2
    page = _open(browser, base, app, doc_id, project.project_id)
    shown = page.eval_on_selector_all(".chip.flag", "chips => chips.map(c => c.dataset.segments).join(',')")
    assert sorted(int(i) for i in shown.split(",")) == sorted(f.segment_id for f in flags)  # grouped per code and turn

    single = page.locator(".chip.flag:not(.group)").first
    first = int(single.get_attribute("data-segments"))
    single.locator("button.nocode").click()
    page.wait_for_selector(f".chip.nocode[data-segments='{first}']")
    with project.session() as session:
        reviews = session.execute(select(t.SegmentReview.segment_id, t.SegmentReview.action)).all()
    assert reviews == [(first, "no_code")]

    # review mode follows the stored queue (expected value of a decision), flags included
    queue = stored_queue(project, document_id=doc_id, by="cora")
    page.focus("#transcript")
    page.keyboard.press("Escape")
    page.keyboard.press("r")
    page.wait_for_selector("#review:not([hidden]) >> text=Review · 1 of")
    shown = page.inner_text("#review .review-text")
    with project.session() as session:
        top = session.scalar(select(t.Segment.text).where(t.Segment.id == queue[0].segment_id))
    assert shown.strip() == top.strip() or shown.strip() in top
    # walk to a flagged sentence and mark it there
    for _ in range(40):
        if page.locator("#review .flag-note").count():
            break
        page.keyboard.press("s")
    assert page.locator("#review .flag-note").count() == 1
    page.keyboard.press("x")  # reviewed: no code
    until(page, "() => [...document.querySelectorAll('.chip.nocode')]"
                           ".reduce((n, c) => n + +c.dataset.count, 0) === 2")
    with project.session() as session:
        assert len(session.scalars(select(t.SegmentReview.id).where(t.SegmentReview.action == "no_code")).all()) == 2
    page.keyboard.press("Escape")
    assert page.errors == []


def test_the_review_page_draws_the_reliability_diagram(live, project, doc_id):
    app, base, browser = live
    page = _open(browser, base, app, doc_id, project.project_id)
    for action in ("accept", "reject"):
        before = page.locator(".chip.suggestion:not(.group)").count()
        page.locator(f".chip.suggestion:not(.group) button.{action}").first.click()
        until(page, f"() => document.querySelectorAll('.chip.suggestion:not(.group)').length === {before - 1}")
    page.goto(f"{base}/projects/{project.project_id}/review")
    page.wait_for_selector("#reliability svg circle")
    page.screenshot(path=str(SCREENSHOTS / "review-page.png"), full_page=True)
    assert "2 decided (1 accepted)" in page.inner_text("#reliability-counts")
    assert "reviewed: no code" in page.inner_text("#coverage")
    assert page.locator("#queue tbody tr").count() > 1
    assert page.errors == []
