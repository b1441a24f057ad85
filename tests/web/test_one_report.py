"""The CLI report, the web's report download and the XLSX/DOCX exports are one report."""

from __future__ import annotations

import io
import re
import zipfile

import openpyxl
import pandas as pd
from click.testing import CliRunner
from docx import Document
from sqlalchemy import select

from chimeqda.cli import main
from chimeqda.services import coding
from chimeqda.store import tables as t

SECTIONS = ["Inter-coder agreement", "Framework matrix", "Saturation", "Comparisons by participant attribute"]


def _cli(*args) -> None:
    result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == 0, result.output


def _sections(html: str) -> list[str]:
    return re.findall(r"<h2[^>]*>(.*?)</h2>", html, flags=re.S)


def _text(html: str) -> str:
    """The report without embedded images (PNG bytes may differ between runs)."""
    return re.sub(r'src="data:image/png;base64,[^"]*"', 'src=""', html)


def test_cli_web_and_exports_render_the_same_report(login, project, tmp_path):
    with project.session() as session:
        suggestions = session.scalars(
            select(t.CodingEvent.id).where(t.CodingEvent.action == "suggested").order_by(t.CodingEvent.id)
        ).all()
    coding.decide(project, suggestions[::2], "accepted", by="cora")
    coding.decide(project, suggestions[1::3], "accepted", by="carl")
    where = ["-p", project.directory, "--db", project.engine.url.render_as_string(hide_password=False)]

    _cli("report", *where, "--out", tmp_path / "cli")
    cli_html = (tmp_path / "cli" / "report.html").read_text(encoding="utf-8")
    cli_tables = sorted(p.stem for p in (tmp_path / "cli" / "tables").glob("*.csv"))

    download = login("vera").get(f"/projects/{project.project_id}/report.zip")
    assert download.status_code == 200
    archive = zipfile.ZipFile(io.BytesIO(download.content))
    web_html = archive.read("report.html").decode("utf-8")
    web_tables = sorted(n[len("tables/"):-4] for n in archive.namelist() if n.startswith("tables/"))

    for section in SECTIONS:
        assert section in _sections(cli_html), f"the CLI report lacks {section!r}"
    assert _sections(web_html) == _sections(cli_html)
    assert _text(web_html) == _text(cli_html)
    assert web_tables == cli_tables and "saturation_curve" in cli_tables
    for name in cli_tables:
        pd.testing.assert_frame_equal(
            pd.read_csv(tmp_path / "cli" / "tables" / f"{name}.csv"),
            pd.read_csv(archive.open(f"tables/{name}.csv")),
        )

    _cli("export", *where, "--format", "xlsx", "--out", tmp_path / "tables.xlsx")
    readme = pd.read_excel(tmp_path / "tables.xlsx", sheet_name="README")
    sheets = openpyxl.load_workbook(tmp_path / "tables.xlsx", read_only=True).sheetnames
    assert len(sheets) == len(readme) and len([s for s in readme["sheet"] if isinstance(s, str) and s]) >= len(
        cli_tables)

    _cli("export", *where, "--format", "docx", "--out", tmp_path / "report.docx")
    headings = [p.text for p in Document(str(tmp_path / "report.docx")).paragraphs if p.style.name.startswith("Heading")]
    for section in SECTIONS:
        assert section in headings, f"the Word report lacks {section!r}"
