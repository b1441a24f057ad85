"""A random verification sample of machine suggestions (`review --sample`): stable draw, unbiased estimate."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from click.testing import CliRunner
from sqlalchemy import select

from chimeqda.cli import main
from chimeqda.errors import InvalidInput
from chimeqda.services import decide, remove_coding
from chimeqda.services.project import project_codebook
from chimeqda.services.reporting import findings_report
from chimeqda.services.verification import (
    clopper_pearson,
    define_sample,
    sample_keys,
    verification_sample,
)
from chimeqda.store import tables as t


@pytest.fixture
def suggested(coded):
    """A project with the lexicon coder's suggestions (the ``coded`` fixture's workspace)."""
    return coded[0]


def _suggestions_by_code(ws) -> Counter:
    """Top-level code of every suggestion, counted the plain way."""
    with ws.session() as session:
        _, book = project_codebook(session, ws.project_id)
        keys = session.scalars(select(t.Code.key).join(t.CodingEvent, t.CodingEvent.code_id == t.Code.id)
                               .where(t.CodingEvent.action == "suggested")).all()
    return Counter(book.root_of(key) for key in keys)


def _members(sample) -> set[int]:
    return set(sample.undecided)


def test_sample_draws_per_code_and_counts_every_suggestion(suggested):
    define_sample(suggested, 2, seed=7)
    sample = verification_sample(suggested)
    counted = _suggestions_by_code(suggested)
    assert sum(counted.values()) > 6
    for estimate in sample.codes:
        assert estimate.suggestions == counted.get(estimate.code, 0)
        assert estimate.sampled == min(2, estimate.suggestions)
        assert estimate.decided == 0 and estimate.precision is None
    assert len(sample.undecided) == sum(c.sampled for c in sample.codes)
    assert not sample.complete and sample.precision is None


def test_decisions_estimate_precision_and_never_reshuffle_the_sample(suggested):
    define_sample(suggested, 3, seed=11)
    before = verification_sample(suggested)
    first, second = before.undecided[:2]
    decide(suggested, [first], "accepted", by="ann")
    decide(suggested, [second], "rejected", by="ann")
    after = verification_sample(suggested)
    assert _members(after) == _members(before) - {first, second}
    assert sum(c.decided for c in after.codes) == 2 and sum(c.accepted for c in after.codes) == 1
    # the newest decision wins, and an accepted coding withdrawn later does not count as right
    decide(suggested, [second], "accepted", by="ann")
    with suggested.session() as session:
        accepted = session.scalar(select(t.CodingEvent.id).where(t.CodingEvent.decides_id == first,
                                                                 t.CodingEvent.action == "accepted"))
    remove_coding(suggested, accepted, by="ann")
    final = verification_sample(suggested)
    assert sum(c.accepted for c in final.codes) == 1 and sum(c.decided for c in final.codes) == 2


def test_a_suggestion_decided_before_the_draw_counts_with_its_decision(suggested):
    with suggested.session() as session:
        suggestion = session.scalar(select(t.CodingEvent.id).where(t.CodingEvent.action == "suggested")
                                    .order_by(t.CodingEvent.id))
    decide(suggested, [suggestion], "accepted", by="ann")
    define_sample(suggested, 10_000, seed=3)  # everything is in the sample
    sample = verification_sample(suggested)
    assert suggestion not in sample.undecided
    assert sum(c.decided for c in sample.codes) == 1 and sum(c.accepted for c in sample.codes) == 1


def test_complete_sample_weights_codes_by_their_suggestions(suggested):
    define_sample(suggested, 10_000, seed=3)
    sample = verification_sample(suggested)
    decide(suggested, sample.undecided, "accepted", by="ann")
    done = verification_sample(suggested)
    assert done.complete
    assert all(c.precision == 1.0 for c in done.codes if c.suggestions)
    assert done.precision == pytest.approx(1.0)


def test_keys_are_stable_and_spread_evenly():
    ids = np.arange(1, 100_001)
    keys = sample_keys(ids, 5)
    assert np.array_equal(keys, sample_keys(ids, 5))
    assert not np.array_equal(keys, sample_keys(ids, 6))
    chosen = ids[np.argsort(keys)[:2_000]]
    # a uniform draw of 2,000 of 100,000 ids: each tenth of the range holds about 200 (binomial sd ≈ 13)
    per_tenth = np.bincount((chosen - 1) // 10_000, minlength=10)
    assert per_tenth.min() > 150 and per_tenth.max() < 250
    assert len(set(sample_keys(np.arange(1, 1001), 5).tolist())) == 1000


def test_clopper_pearson_known_values():
    low, high = clopper_pearson(8, 10)
    assert low == pytest.approx(0.4439, abs=1e-3) and high == pytest.approx(0.9748, abs=1e-3)
    assert clopper_pearson(0, 5)[0] == 0.0 and clopper_pearson(5, 5)[1] == 1.0


def test_no_suggestions_no_sample(workspace):
    with pytest.raises(InvalidInput, match="chimeqda code"):
        define_sample(workspace, 5)
    assert verification_sample(workspace) is None


def test_cli_and_report_show_the_sample(suggested, tmp_path):
    p = ["-p", str(tmp_path / "project"), "--db", str(suggested.engine.url.render_as_string(hide_password=False))]
    runner = CliRunner()
    listed = runner.invoke(main, ["review", *p, "--sample", "1", "--seed", "4"], catch_exceptions=False)
    assert listed.exit_code == 0, listed.output
    assert "verification sample of lexicon: 1 suggestions of each code (seed 4), 0 of" in listed.output
    shown = [int(line.split()[0][1:]) for line in listed.output.splitlines() if line.startswith("#")]
    assert shown and set(shown) <= set(verification_sample(suggested).undecided)
    decide(suggested, shown, "accepted", by="ann")
    estimate = runner.invoke(main, ["review", *p, "--estimate"], catch_exceptions=False).output
    assert "precision [95 % interval]" in estimate and "1.00 [" in estimate
    sections = dict(findings_report(suggested, include_suggested=True).extra_sections)
    machine = sections["Machine suggestions: calibration and review"]
    assert "Verification sample: 1 suggestions of each code of lexicon" in machine
