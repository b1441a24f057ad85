"""Automatic coders: the registry of every coder by name.

Built-in coders register themselves through :func:`register_coders`; another
coder is added with :func:`register`. Nothing heavy is imported until a coder
is fitted, so importing this package is cheap.

>>> from chimeqda.coders import get_coder
>>> coder = get_coder("lexicon", min_hits=1)          # doctest: +SKIP
>>> coder.fit(codebook).predict_proba(segments)       # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chimeqda.coders.base import Coder
from chimeqda.errors import UnknownCoder

DEFAULT_CODER = "ensemble"

CODERS: dict[str, type[Coder]] = {}
"""Coder classes by ``coder_id``: the built-in ones plus any added with :func:`register`."""


def register(coder_cls: type[Coder]) -> type[Coder]:
    """Add ``coder_cls`` to :data:`CODERS` under its ``coder_id`` (usable as a decorator)."""
    if not (isinstance(coder_cls, type) and issubclass(coder_cls, Coder)):
        raise TypeError(f"{coder_cls!r} is not a Coder subclass")
    if not coder_cls.coder_id or coder_cls.coder_id == "base":
        raise ValueError(f"{coder_cls.__name__} needs a coder_id")
    CODERS[coder_cls.coder_id] = coder_cls
    return coder_cls


def register_coders(register: Callable[[type[Coder]], Any]) -> None:
    """Register the built-in coders with ``register``."""
    from chimeqda.coders.ensemble import EnsembleCoder
    from chimeqda.coders.lexicon import LexiconCoder
    from chimeqda.coders.llm import LLMCoder
    from chimeqda.coders.similarity import SimilarityCoder
    from chimeqda.coders.supervised import SupervisedCoder

    for coder_cls in (LexiconCoder, SimilarityCoder, SupervisedCoder, EnsembleCoder, LLMCoder):
        register(coder_cls)


register_coders(register)


def available_coders() -> list[str]:
    """Names of every registered coder, sorted."""
    return sorted(CODERS)


def get_coder(name: str | None = None, **params: Any) -> Coder:
    """A new, unfitted coder registered as ``name`` (default :data:`DEFAULT_CODER`).

    Raises :class:`~chimeqda.errors.UnknownCoder` listing the available names.
    """
    name = name or DEFAULT_CODER
    if name not in CODERS:
        raise UnknownCoder(f"no coder named {name!r}; available: {', '.join(available_coders())}")
    coder_cls = CODERS[name]
    unknown = set(params) - set(coder_cls._param_names())
    if unknown:
        raise ValueError(
            f"the {name} coder has no parameter(s) {', '.join(sorted(unknown))}; "
            f"it takes {', '.join(coder_cls._param_names()) or 'none'}"
        )
    return coder_cls(**params)


__all__ = ["CODERS", "DEFAULT_CODER", "Coder", "available_coders", "get_coder", "register", "register_coders"]
