"""The web layer reads and translates to HTTP; every write goes through ``services``."""

import re
from pathlib import Path

WEB = Path(__file__).parents[2] / "src" / "chimeqda" / "web"
WRITES = re.compile(
    r"session\.(add|add_all|delete|merge)\(|\binsert\(|\.insert\(\)|\bupdate\(|\bdelete\(|"
    r"t\.(CodingEvent|Memo|Code|Codebook|Document|Segment|Turn|Participant)\("
)


def test_nothing_in_web_writes_to_the_database_itself():
    found = [
        f"{path.relative_to(WEB.parent)}:{number}: {line.strip()}"
        for path in sorted(WEB.rglob("*.py"))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if WRITES.search(line)
    ]
    assert found == [], "web/ must call services/ to write:\n" + "\n".join(found)


def test_the_check_finds_a_write():
    assert WRITES.search("        session.add(memo)")
    assert WRITES.search("rows = session.scalars(t.CodingEvent.__table__.insert().returning(x))")
    assert WRITES.search("code = t.Code(codebook_id=1, key='x')")
