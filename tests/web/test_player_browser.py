"""The recording in the document view, in a real browser (Debian's chromium through Playwright).

A VTT transcript gets a synthetic recording; clicking a sentence puts the
player at that sentence's start and highlights it; the function keys move
back and change the speed; an uncertain word is marked.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from live_server import chromium, have_chromium, running, until
from recordings import attach_recording, time_sentences, write_wav
from sqlalchemy import select

from chimeqda.services import accounts, import_files
from chimeqda.store import tables as t
from chimeqda.web import create_app

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
pytestmark = pytest.mark.skipif(not have_chromium(), reason="needs playwright and /usr/bin/chromium")

VTT = """WEBVTT

00:00:00.000 --> 00:00:02.000
<v Interviewer>How was the week?

00:00:02.500 --> 00:00:05.000
<v P03>It was calm. I went to the group twice.

00:00:06.000 --> 00:00:09.500
<v P03>Afterwards we had coffee together.

00:00:10.000 --> 00:00:11.500
<v Interviewer>And how did that feel?

00:00:12.000 --> 00:00:15.000
<v P03>Like I belonged somewhere again.
"""


@pytest.fixture
def recorded(workspace, tmp_path):
    source = tmp_path / "P03-week.vtt"
    source.write_text(VTT, encoding="utf-8")
    (outcome,) = import_files(workspace, [source])
    attach_recording(workspace, outcome.document_id, write_wav(tmp_path / "P03.wav", 16.0), duration=16.0)
    time_sentences(workspace, outcome.document_id,
                   [(0.0, 2.0), (2.5, 3.4), (3.6, 5.0), (6.0, 9.5), (10.0, 11.5), (12.0, 15.0)])
    with workspace.session() as session:
        user = accounts.add_user(session, "cora")
        accounts.grant(session, workspace.project_id, user.id, "coder")
        segments = session.execute(select(t.Segment.id, t.Segment.start, t.Segment.text, t.Segment.time_start)
                                   .where(t.Segment.document_id == outcome.document_id)
                                   .order_by(t.Segment.index)).all()
        coffee = next(s for s in segments if s.text.startswith("Afterwards"))
        row = session.get(t.Segment, coffee.id)
        row.words = [[coffee.start, coffee.start + 10, 0.9], [coffee.start + 18, coffee.start + 24, 0.22]]
    return workspace, outcome.document_id, segments


def test_clicking_a_sentence_plays_it_and_the_keys_control_the_player(recorded):
    ws, doc_id, segments = recorded
    app = create_app(ws.engine, project_dir=ws.directory, poll_seconds=0.5)
    with running(app) as base, chromium() as browser:
        page = browser.new_context(viewport={"width": 1440, "height": 900}).new_page()
        errors = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(f"{base}/login/link?token={app.state.login_links.issue('cora')}")
        page.goto(f"{base}/projects/{ws.project_id}/documents/{doc_id}")
        page.wait_for_selector("#docview[data-loaded='1']")
        page.wait_for_selector("#player-audio")
        until(page, "document.getElementById('player-audio').readyState >= 1")
        assert page.evaluate("document.getElementById('player-audio').duration") == pytest.approx(16.0, abs=0.05)

        index = next(i for i, s in enumerate(segments) if s.text.startswith("I went to the group"))
        start = segments[index].time_start
        assert start is not None
        page.locator(f'.seg[data-seg="{index}"]').first.click()
        until(page, f"document.getElementById('docview').dataset.playing === '{index}'")
        now = page.evaluate("document.getElementById('player-audio').currentTime")
        assert start - 0.05 <= now < start + 1.5
        assert page.locator(f'.seg.playing[data-seg="{index}"]').count() >= 1
        assert page.locator(".seg.playing").count() == page.locator(f'.seg.playing[data-seg="{index}"]').count()

        page.evaluate("document.getElementById('player-audio').pause()")
        page.keyboard.press("F7")  # back 5 s (clamped at 0)
        until(page, f"document.getElementById('player-audio').currentTime < {start - 1.5}")
        page.keyboard.press("F3")
        assert page.evaluate("document.getElementById('player-audio').playbackRate") == pytest.approx(1.1)
        page.keyboard.press("F2")
        page.keyboard.press("F2")
        assert page.evaluate("document.getElementById('player-audio').playbackRate") == pytest.approx(0.9)
        until(page, "document.getElementById('player-rate').textContent === '0.9×'")
        page.keyboard.press("F4")  # play
        until(page, "!document.getElementById('player-audio').paused")
        page.keyboard.press("F4")  # pause
        until(page, "document.getElementById('player-audio').paused")

        # a selection made by dragging codes text; it does not move the player
        before = page.evaluate("document.getElementById('player-audio').currentTime")
        box = page.locator(f'.seg[data-seg="{index}"]').first.bounding_box()
        page.mouse.move(box["x"] + 2, box["y"] + box["height"] / 2)
        page.mouse.down()
        page.mouse.move(box["x"] + 60, box["y"] + box["height"] / 2, steps=5)
        page.mouse.up()
        page.wait_for_selector("#selection-info[data-start]")
        assert page.evaluate("document.getElementById('player-audio').currentTime") == pytest.approx(before, abs=0.01)

        # keyboard only: ↓ selects sentences, F9 plays the selected one from its start
        page.focus("#transcript")
        page.keyboard.press("Escape")
        for _ in range(4):
            page.keyboard.press("ArrowDown")  # sentences 0, 1, 2, 3
        page.keyboard.press("F9")
        until(page, "document.getElementById('docview').dataset.playing === '3'")
        assert page.evaluate("document.getElementById('player-audio').currentTime") == pytest.approx(6.0, abs=1.0)
        page.evaluate("document.getElementById('player-audio').pause()")

        uncertain = page.locator(".seg.uncertain")
        assert uncertain.count() == 1
        assert uncertain.first.inner_text() == "coffee"
        assert "0.22" in uncertain.first.get_attribute("title")
        page.locator(f'.seg[data-seg="{index}"]').first.click()
        page.evaluate("document.getElementById('player-audio').pause()")
        page.screenshot(path=str(SCREENSHOTS / "player.png"))
        assert not errors, errors


def test_a_document_without_a_recording_has_no_player(project, people, doc_id):
    app = create_app(project.engine, project_dir=project.directory)
    with running(app) as base, chromium() as browser:
        page = browser.new_page()
        page.goto(f"{base}/login/link?token={app.state.login_links.issue('cora')}")
        page.goto(f"{base}/projects/{project.project_id}/documents/{doc_id}")
        page.wait_for_selector("#docview[data-loaded='1']")
        assert page.locator("#player").is_hidden()
        assert page.locator(".seg[data-seg]").count() == 0


def test_a_word_is_corrected_in_the_browser_and_the_new_version_opens(recorded):
    ws, doc_id, segments = recorded
    app = create_app(ws.engine, project_dir=ws.directory, poll_seconds=0.5)
    with running(app) as base, chromium() as browser:
        page = browser.new_context(viewport={"width": 1440, "height": 900}).new_page()
        errors = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(f"{base}/login/link?token={app.state.login_links.issue('cora')}")
        page.goto(f"{base}/projects/{ws.project_id}/documents/{doc_id}")
        page.wait_for_selector("#docview[data-loaded='1']")
        page.locator(".seg.uncertain").first.dblclick()
        page.wait_for_selector("#selection-info[data-start]")
        page.keyboard.press("Alt+e")
        page.wait_for_selector("#correct-form:not([hidden])")
        assert page.input_value("#correct-form input") == "coffee"
        page.fill("#correct-form input", "toffee")
        page.keyboard.press("Enter")
        page.wait_for_url(lambda url: f"/documents/{doc_id}" not in url and "#t=" in url)
        page.wait_for_selector("#docview[data-loaded='1']")
        assert "we had toffee together" in page.inner_text("#transcript")
        assert page.locator(".seg.uncertain").count() == 0
        assert page.locator("#player-audio").count() == 1
        assert not errors, errors
    with ws.session() as session:
        new = session.scalars(select(t.Document).where(t.Document.is_current.is_(True))).one()
        assert new.supersedes_id == doc_id and new.version == 2


def test_a_speaker_is_changed_by_click_and_by_keyboard(recorded):
    ws, doc_id, _ = recorded
    app = create_app(ws.engine, project_dir=ws.directory, poll_seconds=0.5)
    with running(app) as base, chromium() as browser:
        page = browser.new_context(viewport={"width": 1440, "height": 900}).new_page()
        errors = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(f"{base}/login/link?token={app.state.login_links.issue('cora')}")
        page.goto(f"{base}/projects/{ws.project_id}/documents/{doc_id}")
        page.wait_for_selector("#docview[data-loaded='1']")
        page.click("#turn-1 .speaker")  # P03's first turn: this turn only
        page.fill(".speaker-editor .speaker-name", "Mira")
        page.keyboard.press("Enter")
        page.wait_for_selector("#turn-1 .speaker:text-is('Mira')")
        assert page.inner_text("#turn-3 .speaker") == "P03"
        # keyboard: Tab to the interviewer's speaker, Enter, every turn of the interviewer
        page.focus("#turn-0 .speaker")
        page.keyboard.press("Enter")
        page.fill(".speaker-editor .speaker-name", "Ann")
        page.select_option(".speaker-editor .speaker-scope", "speaker")
        page.focus(".speaker-editor .speaker-name")
        page.keyboard.press("Enter")
        page.wait_for_selector("#turn-2 .speaker:text-is('Ann')")
        assert page.inner_text("#turn-0 .speaker") == "Ann"
        assert not errors, errors
    with ws.session() as session:
        speakers = session.scalars(select(t.Turn.speaker).where(t.Turn.document_id == doc_id)
                                   .order_by(t.Turn.index)).all()
    assert speakers == ["Ann", "Mira", "Ann", "P03"]
