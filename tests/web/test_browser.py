"""End to end in a real browser (Debian's chromium driven by Playwright).

Log in, open a transcript, select spans by mouse and by keyboard, apply codes,
accept and reject suggestions (inline and in review mode), write memos, and
find all of it in the database; a second coder sees the change live, and does
not under blind coding; a viewer cannot code. Screenshots go to
``docs/screenshots/``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from live_server import chromium, have_chromium, running, until
from sqlalchemy import select

from chimeqda.services import accounts
from chimeqda.store import tables as t
from chimeqda.web import create_app

pytestmark = pytest.mark.skipif(not have_chromium(), reason="needs playwright and /usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
PASSWORD = "a long enough password"
PENDING = ("() => [...document.querySelectorAll('.chip.suggestion:not(.member)')]"
           ".reduce((n, chip) => n + chip.dataset.ids.split(',').length, 0)")
"""How many pending suggestions the margin chips stand for (a grouped chip stands for several)."""


@pytest.fixture
def live(project, people):
    app = create_app(project.engine, poll_seconds=0.4)
    with running(app) as base, chromium() as browser:
        yield app, base, browser


def _open_document(browser, base, app, name, doc_id, project_id, *, link=True):
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    if link:
        page.goto(f"{base}/login/link?token={app.state.login_links.issue(name)}")
    page.goto(f"{base}/projects/{project_id}/documents/{doc_id}")
    page.wait_for_selector("#docview[data-loaded='1']")
    page.errors = errors
    return page


def _human_events(project, name, action=None):
    with project.session() as session:
        query = (
            select(t.CodingEvent, t.Code.key)
            .join(t.Coder, t.Coder.id == t.CodingEvent.coder_id)
            .join(t.Code, t.Code.id == t.CodingEvent.code_id)
            .where(t.Coder.name == name)
            .order_by(t.CodingEvent.id)
        )
        if action:
            query = query.where(t.CodingEvent.action == action)
        return [(e.action, e.start, e.end, key, e.decides_id) for e, key in session.execute(query)]


def _segments(project, doc_id):
    with project.session() as session:
        return session.execute(
            select(t.Segment.start, t.Segment.end).where(t.Segment.document_id == doc_id).order_by(t.Segment.index)
        ).all()


def test_a_coder_codes_reviews_and_writes_memos(live, project, doc_id):
    app, base, browser = live
    with project.session() as session:
        accounts.set_password(session, "cora", PASSWORD)
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))

    # log in with the password form and open the transcript
    page.goto(f"{base}/")
    assert "/login" in page.url
    page.fill("input[name=username]", "cora")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.click("text=Test study")
    page.click("text=P01-interview.txt")
    page.wait_for_selector("#docview[data-loaded='1']")
    assert page.locator(".turn").count() >= 5
    assert "34" in page.inner_text("#attributes")  # participant attributes beside the transcript

    # select a span across two sentences with the mouse, apply a code by typing its name
    first = page.locator("#turn-2 .seg").first.bounding_box()
    last = page.locator("#turn-4 .seg").first.bounding_box()
    page.mouse.move(first["x"] + 2, first["y"] + first["height"] / 3)
    page.mouse.down()
    page.mouse.move(last["x"] + 120, last["y"] + last["height"] / 3, steps=8)
    page.mouse.up()
    page.wait_for_selector("#selection-info[data-start]")
    page.keyboard.type("hope")
    page.keyboard.press("Enter")
    page.wait_for_selector(".chip.coding >> text=Hope and optimism")
    coded = [e for e in _human_events(project, "cora", "accepted") if e[3] == "hope"]
    assert len(coded) == 1
    segments = _segments(project, doc_id)
    assert sum(1 for s, e in segments if s < coded[0][2] and e > coded[0][1]) >= 2  # across sentences

    # select two sentences with the keyboard and apply a code
    page.focus("#transcript")
    page.keyboard.press("Escape")  # clears the selection
    for key in ("ArrowDown", "ArrowDown", "Shift+ArrowDown"):
        page.keyboard.press(key)
    page.keyboard.type("connectedness")
    page.keyboard.press("Enter")
    page.wait_for_selector(".chip.coding >> text=Connectedness")
    connected = [e for e in _human_events(project, "cora", "accepted") if e[3] == "connectedness"]
    assert connected and (connected[0][1], connected[0][2]) == (segments[1][0], segments[2][1])

    # accept a suggestion inline (a chip of one sentence)
    pending = page.evaluate(PENDING)
    assert pending >= 2
    page.locator(".chip.suggestion:not(.group) button.accept").first.click()
    until(page, f"() => ({PENDING})() === {pending - 1}")

    # a memo on a coding and on the document
    page.locator(".chip.coding >> text=Hope and optimism").first.click()
    page.fill(".coding-memo textarea", "Hope, though framed as a plan.")
    page.click(".coding-memo button[type=submit]")
    page.fill("#doc-memo-text", "Interview ran long; second half less focused.")
    page.click("#doc-memo-form button[type=submit]")
    page.wait_for_selector("#doc-memos >> text=Interview ran long")
    page.wait_for_selector(".chip.coding .memo-flag")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "document-view.png"))

    # review mode: walk the remaining suggestions with the keyboard
    page.focus("#transcript")
    page.keyboard.press("Escape")
    page.keyboard.press("r")
    page.wait_for_selector("#review:not([hidden]) >> text=Review")
    page.screenshot(path=str(SCREENSHOTS / "review-mode.png"))
    before = page.evaluate(PENDING)
    page.keyboard.press("x")  # reject
    until(page, f"() => ({PENDING})() === {before - 1}")
    if before > 2:
        page.keyboard.press("s")  # skip one
    page.keyboard.press("a")  # accept
    until(page, f"() => ({PENDING})() === {before - 2}")
    page.keyboard.press("Escape")

    decisions = [e for e in _human_events(project, "cora") if e[4] is not None]
    assert [a for a, *_ in decisions].count("accepted") == 2 and [a for a, *_ in decisions].count("rejected") == 1
    with project.session() as session:
        memos = session.execute(select(t.Memo.target_type, t.Memo.text)).all()
    assert ("coding", "Hope, though framed as a plan.") in memos
    assert ("document", "Interview ran long; second half less focused.") in memos
    assert errors == []


def test_a_second_coder_sees_changes_unless_coding_is_blind(live, project, doc_id):
    app, base, browser = live
    cora = _open_document(browser, base, app, "cora", doc_id, project.project_id)
    carl = _open_document(browser, base, app, "carl", doc_id, project.project_id)

    cora.focus("#transcript")
    cora.keyboard.press("ArrowDown")
    cora.keyboard.type("meaning")
    cora.keyboard.press("Enter")
    cora.wait_for_selector(".chip.coding >> text=Meaning in life")
    carl.wait_for_selector(".chip.coding >> text=Meaning in life", timeout=5000)  # live, within seconds
    assert "cora" in carl.inner_text(".chip.coding")

    with project.session() as session:
        accounts.set_blind_coding(session, project.project_id, True)
    carl.reload()
    carl.wait_for_selector("#docview[data-loaded='1']")
    assert carl.locator(".chip.coding").count() == 0  # cora's coding is hidden now
    assert carl.locator(".chip.suggestion").count() > 0  # the machine's suggestions are not
    cora.focus("#transcript")
    cora.keyboard.press("ArrowDown")
    cora.keyboard.type("empowerment")
    cora.keyboard.press("Enter")
    cora.wait_for_selector(".chip.coding >> text=Empowerment")
    synced = int(carl.get_attribute("#docview", "data-synced") or 0)
    until(carl, f"() => +(document.getElementById('docview').dataset.synced || 0) > {synced}")
    carl.wait_for_timeout(1000)
    assert carl.locator(".chip.coding").count() == 0
    assert cora.errors == [] and carl.errors == []


def test_a_viewer_cannot_code(live, project, doc_id):
    app, base, browser = live
    vera = _open_document(browser, base, app, "vera", doc_id, project.project_id)
    assert vera.locator("#palette-filter").count() == 0
    assert vera.locator(".chip.suggestion button[data-act]").count() == 0  # expanding a group is fine
    vera.focus("#transcript")
    vera.keyboard.press("ArrowDown")
    vera.keyboard.type("hope")
    vera.keyboard.press("Enter")
    status = vera.evaluate(
        """async (doc) => (await fetch(`/api/documents/${doc}/codings`, {method: 'POST',
             headers: {'Content-Type': 'application/json',
                       'X-CSRF-Token': document.querySelector('meta[name=csrf-token]').content},
             body: JSON.stringify({start: 0, end: 10, codes: ['hope']})})).status""",
        doc_id,
    )
    assert status == 403
    assert _human_events(project, "vera") == []


def test_offsets_stay_code_points_around_emoji(live, project, tmp_path):
    """JavaScript counts UTF-16 units; the database counts code points. A mouse selection after
    an emoji must be stored at the code-point offsets of the selected text."""
    from chimeqda.services.importing import import_files

    app, base, browser = live
    source = tmp_path / "P03-emoji.txt"
    source.write_text("I: How was the week? 🙂\nR: Hard 😞 at first 💪🏽. Then I went to a meeting and felt at home.\n",
                      encoding="utf-8")
    import_files(project, [source])
    with project.session() as session:
        doc = session.scalars(select(t.Document).where(t.Document.name == "P03-emoji.txt")).one()
        doc_id, text = doc.id, doc.text
    page = _open_document(browser, base, app, "cora", doc_id, project.project_id)
    wanted = "Then I went to a meeting"
    page.evaluate(
        """(wanted) => {
            for (const span of document.querySelectorAll('.turn-text .seg')) {
                const node = span.firstChild, at = node.data.indexOf(wanted);
                if (at < 0) continue;
                const range = document.createRange();
                range.setStart(node, at); range.setEnd(node, at + wanted.length);
                const selection = window.getSelection();
                selection.removeAllRanges(); selection.addRange(range);
                document.getElementById('transcript').dispatchEvent(new MouseEvent('mouseup', {bubbles: true}));
                return;
            }
            throw new Error('text not found');
        }""",
        wanted,
    )
    page.wait_for_selector("#selection-info[data-start]")
    page.keyboard.type("connectedness")
    page.keyboard.press("Enter")
    page.wait_for_selector(".chip.coding >> text=Connectedness")
    coded = _human_events(project, "cora", "accepted")
    start = text.index(wanted)  # Python: code points
    assert (coded[-1][1], coded[-1][2]) == (start, start + len(wanted))
    assert page.errors == []


def test_a_suggestion_on_quoted_words_is_reviewed_in_its_sentence(live, project, tmp_path):
    """An LLM suggestion names words inside a sentence (after an emoji: code points): only those words
    are highlighted, review mode shows the sentence with them marked, and accepting keeps their span."""
    from chimeqda.model import CoderInfo
    from chimeqda.services.importing import import_files
    from chimeqda.services.project import code_ids, coder_row, project_codebook

    app, base, browser = live
    source = tmp_path / "P04-quote.txt"
    source.write_text("I: And then?\nR: Hard 😞 at first. Then I went to a meeting and felt at home.\n", encoding="utf-8")
    import_files(project, [source])
    quote = "felt at home"
    with project.session() as session:
        doc = session.scalars(select(t.Document).where(t.Document.name == "P04-quote.txt")).one()
        sentence = session.scalars(select(t.Segment).where(t.Segment.document_id == doc.id,
                                                           t.Segment.text.startswith("Then"))).one()
        start = doc.text.index(quote)
        event = t.CodingEvent(
            project_id=project.project_id, document_id=doc.id, segment_id=sentence.id, start=start,
            end=start + len(quote), code_id=code_ids(session, project_codebook(session, project.project_id)[0].id)[
                "connectedness"], coder_id=coder_row(session, CoderInfo("machine", "llm", "test")).id,
            action="suggested", score=1.0, evidence=f'"{quote}" [{start}:{start + len(quote)}]',
        )
        session.add(event)
        session.flush()
        doc_id, event_id, sentence_text = doc.id, event.id, sentence.text
    page = _open_document(browser, base, app, "cora", doc_id, project.project_id)
    assert page.locator(".seg.suggested").all_inner_texts() == [quote]
    page.focus("#transcript")
    page.keyboard.press("r")
    page.wait_for_selector("#review:not([hidden]) .review-text mark")
    assert page.inner_text("#review .review-text mark") == quote
    assert page.inner_text("#review .review-text") == sentence_text
    page.keyboard.press("a")
    until(page, "() => document.querySelectorAll('.chip.suggestion').length === 0")
    assert [(s, e) for _, s, e, _, d in _human_events(project, "cora", "accepted") if d == event_id] == [
        (start, start + len(quote))]
    assert page.errors == []
