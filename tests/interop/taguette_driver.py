"""Drive a real Taguette installation (run with the Taguette venv's python, not chimeqda's).

Commands (JSON on stdout):
  project SPEC.json OUT.sqlite3   make a Taguette project database through Taguette's own
                                  models and HTML code: documents, tags and highlights
  codebook-qdc DB.sqlite3 OUT.qdc export the project's codebook with Taguette's exporter
  codebook-csv CODEBOOK.csv       import a CSV codebook with Taguette's importer; print its tags

SPEC: {"project": name, "documents": [{"name", "html", "highlights": [{"text", "occurrence", "tags"}]}],
       "tags": [{"path", "description"}]}
This file is test tooling; it imports Taguette (BSD-3) but copies none of its code.
"""

import json
import sys


def _taguette_text(html):
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html5lib")
    return "".join(soup.find_all(string=True))


def project(spec_path, out_path):
    from taguette import database
    from taguette.convert import get_html_body
    from taguette.extract import extract

    spec = json.load(open(spec_path, encoding="utf-8"))
    db = database.connect("sqlite:///" + out_path)()
    user = database.User(login="admin")
    db.add(user)
    proj = database.Project(name=spec["project"], description=spec.get("description", ""))
    db.add(proj)
    db.flush()
    db.add(database.ProjectMember(project=proj, user=user, privileges=database.Privileges.ADMIN))
    tags = {}
    for item in spec["tags"]:
        tag = database.Tag(project=proj, path=item["path"], description=item.get("description", ""))
        db.add(tag)
        tags[item["path"]] = tag
    expected = []
    for item in spec["documents"]:
        html = get_html_body(item["html"])
        doc = database.Document(name=item["name"], description=item.get("description", ""), filename=item["name"],
                                project=proj, contents=html,
                                text_direction=database.TextDirection.LEFT_TO_RIGHT)
        db.add(doc)
        db.flush()
        text = _taguette_text(html)
        for hl in item["highlights"]:
            idx = -1
            for _ in range(hl.get("occurrence", 1)):
                idx = text.index(hl["text"], idx + 1)
            start = len(text[:idx].encode("utf-8"))
            end = start + len(hl["text"].encode("utf-8"))
            highlight = database.Highlight(document=doc, start_offset=start, end_offset=end,
                                           snippet=extract(html, start, end),
                                           tags=[tags[p] for p in hl["tags"]])
            db.add(highlight)
            expected.append({"document": item["name"], "text": hl["text"], "tags": hl["tags"],
                             "start_byte": start, "end_byte": end})
    db.commit()
    json.dump({"highlights": expected}, sys.stdout, ensure_ascii=False)


def codebook_qdc(db_path, out_path):
    from taguette import database
    from taguette.export import codebook_xml

    db = database.connect("sqlite:///" + db_path)()
    tags = db.query(database.Tag).order_by(database.Tag.path).all()
    with open(out_path, "wb") as handle:
        codebook_xml(tags, handle)
    json.dump({"tags": [t.path for t in tags]}, sys.stdout)


def codebook_csv(csv_path):
    from taguette.import_codebook import list_tags

    with open(csv_path, "rb") as handle:
        tags = list_tags(handle)
    json.dump({"tags": tags}, sys.stdout, ensure_ascii=False)


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    {"project": project, "codebook-qdc": codebook_qdc, "codebook-csv": codebook_csv}[command](*args)
