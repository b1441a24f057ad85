"""Ingest: turn transcript files into :class:`~chimeqda.model.ParsedDocument` objects.

``read_document`` reads one file (.txt, .md, .docx, .odt, .vtt, .srt, .json);
``parse_transcript_text`` is the plain-text core; ``expand_inputs`` turns
command-line arguments into files.
"""

from .build import parse_transcript_text
from .readers import SUPPORTED_SUFFIXES, expand_inputs, read_document
from .sentences import detect_language, split_sentences

__all__ = [
    "SUPPORTED_SUFFIXES",
    "detect_language",
    "expand_inputs",
    "parse_transcript_text",
    "read_document",
    "split_sentences",
]
