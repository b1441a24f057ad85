"""The fitted-coder cache returns an equivalent coder and never serves stale fits."""

from chimeqda.codebook import builtin_codebook
from chimeqda.coders import get_coder
from chimeqda.coders.cache import fit_cached
from chimeqda.model import LabelledText, Segment

SEGMENTS = [Segment(text="My sponsor picked up at three in the morning.", lang="en"),
            Segment(text="Ik voelde me zo alleen, niemand begreep me.", lang="nl")]


def test_second_fit_comes_from_the_cache_and_scores_the_same(tmp_path, monkeypatch):
    monkeypatch.setenv("CHIMEQDA_CACHE_DIR", str(tmp_path))
    book = builtin_codebook()
    first = fit_cached(get_coder("lexicon", min_hits=1), book)
    assert list((tmp_path / "models").glob("lexicon-*.pickle"))
    second = fit_cached(get_coder("lexicon", min_hits=1), book)
    assert second is not first and second.predict_proba(SEGMENTS) == first.predict_proba(SEGMENTS)
    other = fit_cached(get_coder("lexicon", min_hits=2), book)  # other parameters: another entry
    assert len(list((tmp_path / "models").glob("lexicon-*.pickle"))) == 2
    assert other.min_hits == 2


def test_fits_on_labelled_data_are_not_cached_and_cache_can_be_off(tmp_path, monkeypatch):
    monkeypatch.setenv("CHIMEQDA_CACHE_DIR", str(tmp_path))
    fit_cached(get_coder("lexicon"), builtin_codebook(), [LabelledText("x", frozenset({"hope"}))])
    assert not (tmp_path / "models").exists()
    monkeypatch.setenv("CHIMEQDA_CACHE_DIR", "")
    assert fit_cached(get_coder("lexicon"), builtin_codebook()).is_fitted
    assert not (tmp_path / "models").exists()


def test_the_key_is_the_same_in_every_process():
    import subprocess
    import sys

    code = ("from chimeqda.coders.cache import fit_key; from chimeqda.coders import get_coder; "
            "from chimeqda.codebook import builtin_codebook; print(fit_key(get_coder('lexicon'), builtin_codebook(), []))")
    keys = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           env={"PYTHONHASHSEED": seed, "PATH": ""}).stdout for seed in ("1", "2")}
    assert len(keys) == 1


def test_a_changed_fitting_method_never_reuses_an_old_fit(tmp_path, monkeypatch):
    """Upgrading chimeqda (new coder code, same version number) refits instead of loading a stale pickle."""
    from chimeqda.coders import cache

    monkeypatch.setenv("CHIMEQDA_CACHE_DIR", str(tmp_path))
    book = builtin_codebook()
    fit_cached(get_coder("lexicon"), book)
    before = cache.fit_key(get_coder("lexicon"), book, [])
    monkeypatch.setattr(cache, "coders_source_digest", lambda: "the coders' source after an upgrade")
    assert cache.fit_key(get_coder("lexicon"), book, []) != before
    fit_cached(get_coder("lexicon"), book)
    assert len(list((tmp_path / "models").glob("lexicon-*.pickle"))) == 2  # refitted, not loaded
