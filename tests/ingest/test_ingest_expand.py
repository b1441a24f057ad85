"""expand_inputs: files, folders and globs."""

import pytest

from chimeqda.errors import InvalidInput
from chimeqda.ingest import SUPPORTED_SUFFIXES, expand_inputs


@pytest.fixture
def tree(tmp_path):
    for name in [
        "b.txt",
        "a.md",
        "sub/c.vtt",
        "sub/deep/d.DOCX",
        "notes.pdf",
        ".hidden.txt",
        "~$lock.docx",
        ".git/x.txt",
    ]:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x")
    return tmp_path


def test_supported_suffixes():
    assert SUPPORTED_SUFFIXES == frozenset(
        {".txt", ".md", ".docx", ".odt", ".vtt", ".srt", ".json"}
    )


def test_folder_is_recursive_sorted_and_filtered(tree):
    found = expand_inputs([tree])
    assert [p.relative_to(tree).as_posix() for p in found] == [
        "a.md",
        "b.txt",
        "sub/c.vtt",
        "sub/deep/d.DOCX",
    ]


def test_files_globs_and_duplicates(tree):
    found = expand_inputs(
        [str(tree / "b.txt"), str(tree / "*.md"), str(tree / "**" / "*.vtt"), tree / "b.txt"]
    )
    assert [p.name for p in found] == ["b.txt", "a.md", "c.vtt"]


@pytest.mark.parametrize("bad", ["missing.txt", "*.srt", "notes.pdf"])
def test_errors_name_the_input(tree, bad):
    with pytest.raises(InvalidInput) as info:
        expand_inputs([str(tree / bad)])
    assert bad in str(info.value)


def test_empty_folder(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(InvalidInput):
        expand_inputs([tmp_path / "empty"])
