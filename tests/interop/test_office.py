"""Spreadsheets and Word: contents, round trips, and that LibreOffice opens them."""

from __future__ import annotations

import shutil
import subprocess
import zipfile

import pandas as pd
import pytest
from click.testing import CliRunner

from chimeqda.codebook import load_codebook
from chimeqda.interop.spreadsheets import export_tables_xlsx, presence_matrix, write_codebook_xlsx
from chimeqda.interop.word import export_docx


def test_xlsx_has_every_table_a_readme_and_coded_segments(coded_project, tmp_path):
    out = export_tables_xlsx(coded_project, tmp_path / "tables.xlsx")
    sheets = pd.read_excel(out, sheet_name=None)
    assert list(sheets)[0] == "README"
    readme = sheets["README"]
    listed = set(readme["sheet"].dropna()) - {""}
    assert listed == set(sheets) - {"README"}
    for name in ("frequencies", "participant_matrix", "cooccurrence", "quotes", "coded_segments", "code_presence"):
        assert name in sheets, name
    segments = sheets["coded_segments"]
    assert {"participant", "code", "text", "attr_age", "attr_gender", "coder"} <= set(segments.columns)
    assert set(segments.loc[segments["participant"] == "P01", "attr_age"]) == {34}


def test_presence_matrix_is_zero_one_and_counts_sub_codes(coded_project):
    matrix = presence_matrix(coded_project)
    assert set(pd.unique(matrix.values.ravel())) <= {0, 1}
    assert list(matrix.index) == ["P01", "P02", "P03"]
    assert matrix.loc["P01", "connectedness"] == 1 and matrix.loc["P01", "hope"] == 1
    assert matrix.loc["P03"].sum() == 0


def test_codebook_xlsx_round_trip(workspace, tmp_path):
    book = load_codebook("chime-d")
    out = write_codebook_xlsx(book, tmp_path / "book.xlsx")
    again = load_codebook(out)
    assert [(c.id, c.parent, c.name, c.definition, c.examples) for c in again.codes] == [
        (c.id, c.parent, c.name, c.definition, c.examples) for c in book.codes]


def test_docx_has_tables_real_images_and_quotes(coded_project, tmp_path):
    from docx import Document

    out = export_docx(coded_project, tmp_path / "report.docx")
    document = Document(str(out))
    assert len(document.tables) >= 4
    assert len(document.inline_shapes) >= 2
    with zipfile.ZipFile(out) as archive:
        media = [n for n in archive.namelist() if n.startswith("word/media/")]
        assert media and all(archive.read(n).startswith(b"\x89PNG") for n in media)
    assert any(p.style.name == "Quote" for p in document.paragraphs)


def test_cli_exports_every_format(coded_project, tmp_path):
    from chimeqda.cli import main

    runner = CliRunner()
    for fmt, name in (("qdpx", "p.qdpx"), ("qdc", "p.qdc"), ("xlsx", "t.xlsx"), ("docx", "r.docx"),
                      ("csv-codebook", "c.csv"), ("xlsx-codebook", "c.xlsx"), ("presence-matrix", "m.csv")):
        result = runner.invoke(main, ["export", "-p", str(coded_project.directory), "--db",
                                      coded_project.engine.url.render_as_string(hide_password=False),
                                      "--format", fmt, "--out", str(tmp_path / name)])
        assert result.exit_code == 0, result.output
        assert (tmp_path / name).stat().st_size > 0


def test_cli_imports_exchange_files(coded_project, tmp_path, new_project):
    from chimeqda.cli import main
    from chimeqda.interop import export_qdpx

    out = export_qdpx(coded_project, tmp_path / "study.qdpx")
    copy = new_project("copy")
    result = CliRunner().invoke(main, ["import", "-p", str(copy.directory), "--db",
                                       copy.engine.url.render_as_string(hide_password=False), str(out)])
    assert result.exit_code == 0, result.output
    assert "imported" in result.output and "4 codings" in result.output


@pytest.mark.skipif(shutil.which("soffice") is None,
                    reason="LibreOffice (soffice) is not installed; CI installs it (apt-get install libreoffice-core "
                           "libreoffice-writer libreoffice-calc)")
def test_libreoffice_opens_xlsx_and_docx(coded_project, tmp_path):
    files = [export_tables_xlsx(coded_project, tmp_path / "tables.xlsx"),
             export_docx(coded_project, tmp_path / "report.docx")]
    profile = tmp_path / "lo-profile"
    for path in files:
        subprocess.run(
            ["soffice", f"-env:UserInstallation=file://{profile}", "--headless", "--convert-to", "pdf",
             "--outdir", str(tmp_path / "pdf"), str(path)],
            check=True, capture_output=True, timeout=240,
        )
        pdf = tmp_path / "pdf" / (path.stem + ".pdf")
        assert pdf.exists() and pdf.read_bytes().startswith(b"%PDF"), path.name
