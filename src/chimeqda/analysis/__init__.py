"""Counting codes: frequencies, co-occurrence and quotes (pure functions).

Every function takes plain pandas DataFrames and a :class:`~chimeqda.model.Codebook`
and returns a new DataFrame; nothing here reads a database, prints or writes.
``services.py`` builds the input frames.

Input frames
------------
``codings``
    One row per (segment, code) pair: ``document_id`` (int), ``document``
    (name), ``participant`` (str or missing), ``segment_id`` (int, unique
    in the project), ``segment_index`` (int, position in the document), ``turn`` (int),
    ``text``, ``code`` (the code id as coded, possibly a sub-code),
    ``status`` (``"accepted"`` or ``"suggested"``; other statuses are
    ignored), ``score`` (float, NaN for human codings) and ``coder``.
    Only ``document_id``, ``segment_id``, ``code`` and ``status`` are
    required.
``segments`` (optional)
    ``document_id``, ``segment_id``, ``segment_index``, ``turn``, ``role``,
    ``participant``: every segment, coded or not.
``participants``
    A ``participant`` column plus attribute columns (``age``, ``gender``,
    ``years_in_recovery`` ...), one row per participant of the project,
    including those without codings, so that "mentioned by n of N" uses every
    participant.

Common parameters
-----------------
``level``
    ``"root"`` (default) rolls sub-codes up to their top-level code;
    ``"code"`` keeps codes as coded; ``"all"`` counts each coding for its
    code and every ancestor.
``include_suggested``
    ``False`` (default) counts accepted codings only; ``True`` counts
    suggestions as well, once per segment and code.
"""

from __future__ import annotations

from .agreement import (
    agreement_table,
    character_agreement,
    cohen_kappa,
    krippendorff_alpha,
    pairwise_agreement,
    percent_agreement,
)
from .cooccurrence import cooccurrence, cooccurrence_matrix, most_linked
from .framework import draft_summary, framework_matrix, framework_wide
from .frequencies import (
    bin_attribute,
    code_frequencies,
    code_participant_matrix,
    frequencies_by_attribute,
    mentioned_by,
)
from .quotes import coded_segments, exemplar_quotes
from .saturation import saturation_bootstrap, saturation_curve, saturation_point

__all__ = [
    "agreement_table",
    "bin_attribute",
    "character_agreement",
    "cohen_kappa",
    "draft_summary",
    "framework_matrix",
    "framework_wide",
    "krippendorff_alpha",
    "pairwise_agreement",
    "percent_agreement",
    "saturation_bootstrap",
    "saturation_curve",
    "saturation_point",
    "code_frequencies",
    "code_participant_matrix",
    "coded_segments",
    "cooccurrence",
    "cooccurrence_matrix",
    "exemplar_quotes",
    "frequencies_by_attribute",
    "mentioned_by",
    "most_linked",
]
