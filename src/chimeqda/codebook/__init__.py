"""Codebooks: the built-in CHIME-D, and user codebooks from YAML, CSV or XLSX."""

from chimeqda.codebook.loader import (
    BUILTIN,
    builtin_codebook,
    codebook_to_rows,
    load_codebook,
    write_codebook_csv,
    write_codebook_yaml,
)

__all__ = [
    "BUILTIN",
    "builtin_codebook",
    "codebook_to_rows",
    "load_codebook",
    "write_codebook_csv",
    "write_codebook_yaml",
]
