"""Pseudonymising in a real browser: mark a selection as an identifier, see it highlighted, apply."""

from __future__ import annotations

import pytest
from live_server import chromium, have_chromium, running, until
from sqlalchemy import select

from chimeqda.services.privacy_audit import opt_in
from chimeqda.services.pseudonymise import unlock_key
from chimeqda.store import tables as t
from chimeqda.web import create_app

pytestmark = pytest.mark.skipif(not have_chromium(), reason="needs playwright and /usr/bin/chromium")
PASS = "browser passphrase"


def test_mark_highlight_and_apply(project, people, doc_id, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    opt_in(project)
    unlock_key(project, PASS)
    app = create_app(project.engine, poll_seconds=0.4)
    with running(app) as base, chromium() as browser:
        page = browser.new_context(viewport={"width": 1440, "height": 900}).new_page()
        errors = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(f"{base}/login/link?token={app.state.login_links.issue('cora')}")
        page.goto(f"{base}/projects/{project.project_id}/documents/{doc_id}")
        page.wait_for_selector("#docview[data-loaded='1']")
        page.wait_for_selector("#identifiers:not([hidden])")
        page.evaluate(
            """(wanted) => {
                for (const span of document.querySelectorAll('.turn-text .seg')) {
                    const node = span.firstChild, at = node.data.indexOf(wanted);
                    if (at < 0) continue;
                    const range = document.createRange();
                    range.setStart(node, at); range.setEnd(node, at + wanted.length);
                    const selection = window.getSelection();
                    selection.removeAllRanges(); selection.addRange(range);
                    return;
                }
                throw new Error('text not found');
            }""",
            "Ghent",
        )
        page.select_option("#identifier-label", "PLACE")
        page.click("#identifier-mark")
        page.wait_for_selector("#identifier-list li.added >> text=Ghent")
        assert page.evaluate("CSS.highlights.get('identifier-confirmed').size") == 1
        page.fill("#identifier-passphrase", PASS)
        page.click("#identifier-apply button")
        page.wait_for_selector("#identifiers-status >> text=pseudonymised")  # the new version's page
        # its status can show before its transcript has loaded
        until(page, "document.querySelector('#transcript').innerText.includes('[Town 1]')")
        assert "[Town 1]" in page.inner_text("#transcript") and "Ghent" not in page.inner_text("#transcript")
        assert errors == []
    with project.session() as session:
        current = session.scalar(select(t.Document).where(t.Document.name == "P01-interview.txt",
                                                          t.Document.is_current.is_(True)))
    assert current.version == 2 and "[Town 1]" in current.text
