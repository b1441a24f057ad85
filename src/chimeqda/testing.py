"""Helpers for coder authors: the shared contract every coder must pass.

>>> from chimeqda.testing import check_coder
>>> check_coder(MyCoder, codebook)        # doctest: +SKIP

``check_coder`` runs the protocol of ``STYLE.md`` ("The one coder protocol")
and raises ``AssertionError`` describing the first broken rule.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Sequence

from chimeqda.coders.base import Coder
from chimeqda.errors import NotFittedError
from chimeqda.model import Codebook, LabelledText, Segment, Suggestion

DEFAULT_SEGMENTS = (
    Segment("My sponsor calls me every week and the group understands me.", lang="en", key="s1"),
    Segment("I relapsed last winter and lost my job.", lang="en", key="s2"),
    Segment("We moved house in the spring.", lang="en", key="s3", context=("It was a long drive.",)),
    Segment("Ik ga elke week naar de meeting en daar voel ik me thuis.", lang="nl", key="s4"),
    Segment("I believe things will get better for me.", lang=None, key="s5"),
)


def _instance(coder: type[Coder] | Coder) -> Coder:
    if isinstance(coder, type):
        return coder()
    return coder.__class__(**coder.get_params())


def check_coder(
    coder: type[Coder] | Coder,
    codebook: Codebook,
    segments: Sequence[Segment] = DEFAULT_SEGMENTS,
    labelled: Sequence[LabelledText] = (),
) -> None:
    """Run the coder contract; raise ``AssertionError`` on the first violation.

    Checks: ``__init__`` takes keyword parameters only and stores them
    unchanged (``get_params`` round-trips through ``set_params`` and the
    constructor); unfitted use raises :class:`NotFittedError`; ``fit`` returns
    ``self`` and sets ``codes_`` (the top-level codes by default); every score
    row has exactly the keys of ``codes_`` with values in [0, 1]; results are
    deterministic for the same parameters (and ``random_state``); ``suggest``
    returns :class:`Suggestion` objects at or above threshold with evidence
    (and, when a suggestion names a span, one inside its segment);
    ``info()`` records name, version, parameters and training size.
    """
    cls = coder if isinstance(coder, type) else type(coder)
    assert issubclass(cls, Coder), f"{cls!r} does not subclass Coder"
    assert cls.coder_id and cls.coder_id != "base", f"{cls.__name__} needs a coder_id"
    for name, p in inspect.signature(cls.__init__).parameters.items():
        if name == "self":
            continue
        assert p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD), f"{cls.__name__}.__init__ must not take *args/**kwargs"
        assert p.default is not p.empty, f"{cls.__name__}.__init__ parameter {name!r} needs a default"

    first = _instance(coder)
    params = first.get_params()
    clone = cls(**params)
    assert clone.get_params() == params, "get_params() does not round-trip through the constructor"
    assert first.set_params(**params) is first, "set_params() must return self"
    assert first.get_params() == params, "set_params(**get_params()) changed the parameters"

    try:
        first.predict_proba(list(segments))
    except NotFittedError:
        pass
    else:
        raise AssertionError("predict_proba before fit must raise NotFittedError")
    try:
        first.suggest(list(segments))
    except NotFittedError:
        pass
    else:
        raise AssertionError("suggest before fit must raise NotFittedError")

    fitted = first.fit(codebook, labelled)
    assert fitted is first, "fit() must return self"
    assert first.get_params() == params, "fit() must not change the parameters"
    codes = tuple(first.codes_)
    if params.get("level", "top") == "top":
        expected = tuple(c.id for c in codebook.top_level)
        assert codes == expected, f"codes_ {codes} differ from the codebook's top-level codes {expected}"

    scores = first.predict_proba(list(segments))
    assert isinstance(scores, list) and len(scores) == len(segments), "one score mapping per segment expected"
    for row in scores:
        assert set(row) == set(codes), f"score keys {sorted(row)} differ from codes_ {sorted(codes)}"
        for code, value in row.items():
            assert isinstance(value, float), f"score of {code} is {type(value).__name__}, not float"
            assert 0.0 <= value <= 1.0 and not math.isnan(value), f"score of {code} is {value}, outside [0, 1]"
    assert first.predict_proba([]) == [], "an empty batch must give an empty list"

    again = cls(**params).fit(codebook, labelled).predict_proba(list(segments))
    assert again == scores, "the same parameters (and random_state) must give the same scores"

    limits = first.thresholds()
    assert set(limits) == set(codes), "thresholds() must cover codes_"
    per_segment = dict(zip([s.key for s in segments], first.segment_thresholds(list(segments))))
    for lang_limits in per_segment.values():
        assert set(lang_limits) == set(codes), "thresholds(lang) must cover codes_"
    suggestions = first.suggest(list(segments))
    keys = {s.key for s in segments}
    for s in suggestions:
        assert isinstance(s, Suggestion), "suggest() must return Suggestion objects"
        assert s.segment_key in keys and s.code_id in codes
        assert s.score >= per_segment[s.segment_key][s.code_id] - 1e-9, "a suggestion below its threshold"
        assert isinstance(s.evidence, str) and s.evidence.strip(), f"suggestion for {s.code_id} has no evidence"
        if s.start is not None or s.end is not None:
            text = next(seg.text for seg in segments if seg.key == s.segment_key)
            assert s.start is not None and s.end is not None and 0 <= s.start < s.end <= len(text), \
                f"suggestion for {s.code_id}: span {s.start}-{s.end} is not inside its segment"
    predicted = first.predict(list(segments))
    assert sum(len(p) for p in predicted) == len(suggestions), "predict() and suggest() disagree"
    for segment in segments[:2]:
        line = first.explain(segment, codes[0])
        assert isinstance(line, str), "explain() must return a string"

    info = first.info()
    assert info.name == cls.coder_id and info.kind == "machine"
    assert info.version, "info() needs a version"
    for name in params:
        assert name in info.params, f"info().params misses parameter {name!r}"
    assert info.training_size == int(getattr(first, "training_size_", 0))
