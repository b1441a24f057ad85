"""Exchange with other QDA tools: REFI-QDA projects and codebooks, Taguette, spreadsheets and Word.

``import_exchange(ws, path)`` reads a ``.qdpx``/``.qde``/``.qdc`` file or a
Taguette ``.sqlite3`` project into an open project, in one transaction, and
returns an :class:`ImportReport`. The exporters write ``.qdpx``, ``.qdc``,
XLSX and DOCX files. See docs/interop.md.
"""

from __future__ import annotations

from pathlib import Path

from chimeqda.interop.exchange import ImportReport

EXCHANGE_SUFFIXES = (".qdpx", ".qde", ".qdc", ".sqlite3", ".sqlite", ".db")


def read_exchange(path: Path | str):
    """Read an exchange file into an :class:`~chimeqda.interop.exchange.Exchange` without storing it."""
    from chimeqda.errors import ImportRejected

    path = Path(path)
    if not path.is_file():
        raise ImportRejected("no such file", source=str(path))
    suffix = path.suffix.lower()
    if suffix in (".qdpx", ".qde", ".qdc"):
        from chimeqda.interop.refi_import import read_refi

        return read_refi(path)
    if suffix in (".sqlite3", ".sqlite", ".db"):
        from chimeqda.interop.taguette import read_taguette

        return read_taguette(path)
    raise ImportRejected(
        "unsupported exchange file; use a REFI-QDA .qdpx/.qdc file or a Taguette .sqlite3 project", source=path.name
    )


def import_exchange(ws, path: Path | str) -> ImportReport:
    """Import a REFI-QDA project or codebook, or a Taguette project, into ``ws`` (all or nothing)."""
    from chimeqda.interop.exchange import store_exchange

    return store_exchange(ws, read_exchange(path))


def export_qdpx(ws, out, *, recordings: bool = True):
    from chimeqda.interop.refi_export import export_qdpx as _export

    return _export(ws, out, recordings=recordings)


def export_qdc(ws, out):
    from chimeqda.interop.refi_export import export_qdc as _export

    return _export(ws, out)


__all__ = ["EXCHANGE_SUFFIXES", "ImportReport", "export_qdc", "export_qdpx", "import_exchange", "read_exchange"]
