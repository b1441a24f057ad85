"""Load and validate codebooks (format: docs/codebook-format.md).

Every validation error names the file, the place (code id or row) and the
field, e.g. ``codebook.csv, row 14: code "hope" has no definition``.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from chimeqda.errors import CodebookError
from chimeqda.model import Code, Codebook, Example, LabelledText
from chimeqda.tabular import csv_cell

DATA_DIR = Path(__file__).parent / "data"
BUILTIN = {"chime-d": DATA_DIR / "chime-d.yaml"}
REQUIRED_TEXT = ("name", "definition", "inclusion", "exclusion")
TRANSLATED = ("name", "definition", "inclusion", "exclusion")
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
LIST_SEPARATOR = " | "


def builtin_codebook(name: str = "chime-d") -> Codebook:
    """The codebook shipped with chimeqda under ``name`` (``chime-d``)."""
    if name not in BUILTIN:
        raise CodebookError(f"no built-in codebook {name!r}; built in: {', '.join(BUILTIN)}")
    return _load_cached(str(BUILTIN[name]))


@lru_cache(maxsize=8)
def _load_cached(path: str) -> Codebook:
    return load_codebook(path)


def load_codebook(source: str | Path, **meta: str) -> Codebook:
    """Load a codebook from a built-in name, a YAML file, or a CSV/XLSX file.

    ``meta`` (``id``, ``name``, ``version``) fills codebook fields that a
    CSV/XLSX file cannot carry.
    """
    if isinstance(source, str) and source in BUILTIN:
        return builtin_codebook(source)
    path = Path(source)
    if not path.exists():
        known = ", ".join(BUILTIN)
        raise CodebookError(
            f"no such codebook file (built-in codebooks: {known})", source=str(source)
        )
    suffix = path.suffix.lower()
    if suffix in (".yaml", ".yml"):
        return _from_yaml(path)
    if suffix == ".csv":
        return _from_rows(path, _read_csv(path), meta)
    if suffix == ".xlsx":
        return _from_rows(path, _read_xlsx(path), meta)
    raise CodebookError(
        "unsupported codebook format; use .yaml, .csv or .xlsx (or .qdc via `chimeqda import`)",
        source=path.name,
    )


# ---------------------------------------------------------------- YAML


def _from_yaml(path: Path) -> Codebook:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise CodebookError(
            f"not UTF-8 text (byte {exc.start}); save the file as UTF-8", source=path.name
        ) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise CodebookError(f"not valid YAML: {problem}", source=path.name, location=where) from None
    if not isinstance(raw, dict):
        raise CodebookError("expected a mapping with id, name, version and codes", source=path.name)
    for key in ("id", "name", "version", "codes"):
        if not raw.get(key):
            raise CodebookError(f"missing required field {key!r}", source=path.name)
    if not isinstance(raw["codes"], list):
        raise CodebookError("'codes' must be a list of codes", source=path.name)
    languages = tuple(raw.get("languages") or ("en",))
    codes: list[Code] = []
    _walk_yaml_codes(path, raw["codes"], None, languages, codes)
    _check_unique(path, codes)
    bank: tuple[LabelledText, ...] = ()
    if raw.get("bank"):
        bank = load_bank(path.parent / str(raw["bank"]), {c.id for c in codes})
    return Codebook(
        id=str(raw["id"]),
        name=str(raw["name"]),
        version=str(raw["version"]),
        codes=tuple(codes),
        description=str(raw.get("description") or ""),
        languages=languages,
        bank=bank,
        research_question=" ".join(str(raw.get("research_question") or "").split()),
    )


def _walk_yaml_codes(
    path: Path, items: list[Any], parent: str | None, languages: tuple[str, ...], out: list[Code]
) -> None:
    for position, item in enumerate(items, start=1):
        label = f"code #{position}" + (f" under {parent!r}" if parent else "")
        if not isinstance(item, dict):
            raise CodebookError("each code must be a mapping of fields", source=path.name, location=label)
        code_id = str(item.get("id") or "")
        where = f'code "{code_id}"' if code_id else label
        out.append(_make_code(path.name, where, item, parent, languages))
        children = item.get("children") or []
        if not isinstance(children, list):
            raise CodebookError("'children' must be a list", source=path.name, location=where)
        _walk_yaml_codes(path, children, code_id, languages, out)


def _make_code(
    source: str, where: str, item: Mapping[str, Any], parent: str | None, languages: Iterable[str]
) -> Code:
    code_id = str(item.get("id") or "").strip()
    if not code_id:
        raise CodebookError("field 'id' is missing", source=source, location=where)
    if not _ID.match(code_id):
        raise CodebookError(
            f"id {code_id!r} may contain only letters, digits, '-', '_' and '.'",
            source=source,
            location=where,
        )
    for field_name in REQUIRED_TEXT:
        if not str(item.get(field_name) or "").strip():
            raise CodebookError(
                f'code "{code_id}" has no {field_name}', source=source, location=f"{where}, field {field_name!r}"
            )
    examples = _as_list(item.get("examples"))
    if not examples:
        raise CodebookError(
            f'code "{code_id}" has no examples (give at least one example sentence)',
            source=source,
            location=f"{where}, field 'examples'",
        )
    color = item.get("color")
    if color is not None and not _COLOR.match(str(color)):
        raise CodebookError(
            f"colour {color!r} is not of the form #rrggbb", source=source, location=f"{where}, field 'color'"
        )
    all_examples = [Example(text, "en") for text in examples]
    all_counter = [Example(text, "en") for text in _as_list(item.get("counter_examples"))]
    translations: dict[str, dict[str, str]] = {}
    for lang in languages:
        block = item.get(lang)
        if lang == "en" or not isinstance(block, dict):
            continue
        translations[lang] = {k: str(block[k]) for k in TRANSLATED if block.get(k)}
        all_examples += [Example(text, lang) for text in _as_list(block.get("examples"))]
        all_counter += [Example(text, lang) for text in _as_list(block.get("counter_examples"))]
    keywords_raw = item.get("keywords") or {}
    if not isinstance(keywords_raw, dict):
        raise CodebookError(
            "keywords must map a language to a list of patterns",
            source=source,
            location=f"{where}, field 'keywords'",
        )
    keywords = {str(lang): tuple(_as_list(words)) for lang, words in keywords_raw.items()}
    return Code(
        id=code_id,
        name=str(item["name"]).strip(),
        definition=str(item["definition"]).strip(),
        inclusion=str(item["inclusion"]).strip(),
        exclusion=str(item["exclusion"]).strip(),
        parent=parent,
        color=str(color) if color else None,
        examples=tuple(all_examples),
        counter_examples=tuple(all_counter),
        keywords=keywords,
        translations=translations,
    )


def _as_list(value: Any) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [part.strip() for part in value.split(LIST_SEPARATOR.strip()) if part.strip()]
    if isinstance(value, (list, tuple)):
        return [str(v).strip() for v in value if str(v).strip()]
    return [str(value)]


def _check_unique(path: Path, codes: list[Code]) -> None:
    seen: set[str] = set()
    for code in codes:
        if code.id in seen:
            raise CodebookError(f'code id "{code.id}" is used twice', source=path.name)
        seen.add(code.id)
    for code in codes:
        if code.parent is not None and code.parent not in seen:
            raise CodebookError(
                f'code "{code.id}" has parent "{code.parent}", which is not in the codebook',
                source=path.name,
            )


def load_bank(path: Path, code_ids: set[str]) -> tuple[LabelledText, ...]:
    """Read an example bank (JSON lines of text, lang, labels)."""
    if not path.exists():
        raise CodebookError("the example bank named in the codebook does not exist", source=str(path))
    items = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            labels = frozenset(row.get("labels") or ())
            text = str(row["text"])
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise CodebookError(f"not a valid bank line ({exc})", source=path.name, location=f"line {number}") from None
        unknown = labels - code_ids
        if unknown:
            raise CodebookError(
                f"unknown code(s) {sorted(unknown)}", source=path.name, location=f"line {number}"
            )
        items.append(
            LabelledText(text=text, labels=labels, lang=str(row.get("lang") or "en"), source=f"bank:{number}")
        )
    return tuple(items)


# ---------------------------------------------------------------- CSV / XLSX

ROW_FIELDS = (
    "id", "parent", "name", "definition", "inclusion", "exclusion", "examples",
    "counter_examples", "color", "keywords_en", "keywords_nl", "name_nl", "definition_nl",
    "inclusion_nl", "exclusion_nl", "examples_nl", "counter_examples_nl",
)


def _read_csv(path: Path) -> list[dict[str, str]]:
    from chimeqda.tabular import read_csv_table

    return read_csv_table(path)[1]


def _read_xlsx(path: Path) -> list[dict[str, str]]:
    from zipfile import BadZipFile

    from openpyxl import load_workbook

    from chimeqda.errors import ImportRejected
    from chimeqda.interop.safety import open_zip

    try:  # a workbook is a zip archive: the same limits as an exchange file, before openpyxl unpacks it
        open_zip(path).close()
    except ImportRejected as exc:
        raise CodebookError(f"not a usable Excel workbook: {exc.reason}",
                            source=path.name) from None
    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except (BadZipFile, KeyError, OSError) as exc:
        raise CodebookError(f"not a valid Excel workbook ({exc})", source=path.name) from None
    sheet = workbook["Codebook"] if "Codebook" in workbook.sheetnames else workbook.worksheets[0]
    rows = list(sheet.iter_rows(values_only=True))
    workbook.close()
    if not rows:
        return []
    from chimeqda.tabular import check_cells, check_header

    header = [str(h or "").strip() for h in rows[0]]
    check_header(header, path.name)
    kept = [row for row in rows[1:] if any(v not in (None, "") for v in row)]
    for number, row in enumerate(kept, start=2):
        check_cells(header, row, path.name, number)
    return [{header[i]: ("" if v is None else str(v)) for i, v in enumerate(row) if i < len(header)} for row in kept]


def _from_rows(path: Path, rows: list[dict[str, str]], meta: Mapping[str, str]) -> Codebook:
    if not rows:
        raise CodebookError("the codebook has no rows", source=path.name)
    header = {k.strip().lower() for k in rows[0] if k}
    for required in ("id", "name", "definition", "inclusion", "exclusion", "examples"):
        if required not in header:
            raise CodebookError(f"missing column {required!r}", source=path.name, location="header row")
    codes = []
    for number, raw in enumerate(rows, start=2):  # row 1 is the header
        row = {str(k).strip().lower(): (v or "").strip() for k, v in raw.items() if k}
        item: dict[str, Any] = {k: row.get(k) for k in ("id", *REQUIRED_TEXT, "color")}
        item["color"] = row.get("color") or None
        item["examples"] = _as_list(row.get("examples"))
        item["counter_examples"] = _as_list(row.get("counter_examples"))
        item["keywords"] = {
            lang: _as_list(row.get(f"keywords_{lang}")) for lang in ("en", "nl") if row.get(f"keywords_{lang}")
        }
        nl = {k: row.get(f"{k}_nl") for k in TRANSLATED if row.get(f"{k}_nl")}
        nl["examples"] = _as_list(row.get("examples_nl"))
        nl["counter_examples"] = _as_list(row.get("counter_examples_nl"))
        item["nl"] = nl
        codes.append(_make_code(path.name, f"row {number}", item, row.get("parent") or None, ("en", "nl")))
    _check_unique(path, codes)
    languages = ("en", "nl") if any(c.translations for c in codes) else ("en",)
    return Codebook(
        id=meta.get("id") or path.stem,
        name=meta.get("name") or path.stem,
        version=meta.get("version") or "1",
        codes=tuple(codes),
        languages=languages,
    )


def codebook_to_rows(codebook: Codebook) -> list[dict[str, str]]:
    """One flat row per code, in the CSV/XLSX column layout."""
    rows = []
    for code in codebook.codes:
        nl = code.translations.get("nl", {})
        rows.append(
            {
                "id": code.id,
                "parent": code.parent or "",
                "name": code.name,
                "definition": code.definition,
                "inclusion": code.inclusion,
                "exclusion": code.exclusion,
                "examples": LIST_SEPARATOR.join(e.text for e in code.examples if e.lang == "en"),
                "counter_examples": LIST_SEPARATOR.join(
                    e.text for e in code.counter_examples if e.lang == "en"
                ),
                "color": code.color or "",
                "keywords_en": LIST_SEPARATOR.join(code.keywords.get("en", ())),
                "keywords_nl": LIST_SEPARATOR.join(code.keywords.get("nl", ())),
                "name_nl": nl.get("name", ""),
                "definition_nl": nl.get("definition", ""),
                "inclusion_nl": nl.get("inclusion", ""),
                "exclusion_nl": nl.get("exclusion", ""),
                "examples_nl": LIST_SEPARATOR.join(e.text for e in code.examples if e.lang == "nl"),
                "counter_examples_nl": LIST_SEPARATOR.join(
                    e.text for e in code.counter_examples if e.lang == "nl"
                ),
            }
        )
    return rows


def write_codebook_csv(codebook: Codebook, path: Path) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=ROW_FIELDS)
        writer.writeheader()
        writer.writerows({k: csv_cell(v) for k, v in row.items()} for row in codebook_to_rows(codebook))
    return path


def write_codebook_yaml(codebook: Codebook, path: Path) -> Path:
    """Write a codebook as YAML (the bank is not written; it stays a separate file)."""

    def block(code: Code) -> dict[str, Any]:
        item: dict[str, Any] = {"id": code.id, "name": code.name}
        if code.color:
            item["color"] = code.color
        for key in ("definition", "inclusion", "exclusion"):
            item[key] = getattr(code, key)
        item["examples"] = [e.text for e in code.examples if e.lang == "en"]
        item["counter_examples"] = [e.text for e in code.counter_examples if e.lang == "en"]
        if code.keywords:
            item["keywords"] = {k: list(v) for k, v in code.keywords.items()}
        for lang, fields in code.translations.items():
            item[lang] = dict(fields)
            item[lang]["examples"] = [e.text for e in code.examples if e.lang == lang]
            item[lang]["counter_examples"] = [e.text for e in code.counter_examples if e.lang == lang]
        children = [block(child) for child in codebook.children(code.id)]
        if children:
            item["children"] = children
        return item

    document = {
        "id": codebook.id,
        "name": codebook.name,
        "version": codebook.version,
        "description": codebook.description,
        "languages": list(codebook.languages),
        **({"research_question": codebook.research_question} if codebook.research_question else {}),
        "codes": [block(code) for code in codebook.top_level],
    }
    path.write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path
