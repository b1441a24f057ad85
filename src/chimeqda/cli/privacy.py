"""Privacy commands: pseudonymise, privacy-check, audit (docs/privacy.md)."""

from __future__ import annotations

import os
from pathlib import Path

import click

from chimeqda.cli.common import (
    current_user,
    echo,
    friendly_errors,
    open_project,
    project_options,
    terminal_safe,
)
from chimeqda.errors import InvalidInput

LABEL_KEYS = {"1": "PERSON", "2": "PLACE", "3": "ORG", "4": "DATE", "5": "CONTACT", "6": "AGE"}
REVIEW_KEYS = ("y confirm · n reject · Y/N confirm/reject this text everywhere · 1-6 kind "
               "(person place org date contact age) · + mark other text · s skip · q stop")


def _passphrase(key_file: Path | None, ws, *, creating_ok: bool = True) -> str:
    from chimeqda.privacy.keyfile import PASSPHRASE_ENV
    from chimeqda.services.pseudonymise import key_location

    value = os.environ.get(PASSPHRASE_ENV)
    if value:
        return value
    path = key_location(ws, key_file)
    new = not path.exists()
    if new and not creating_ok:
        raise InvalidInput(f"no key file at {path}; pass --key-file", source=str(path))
    if new:
        echo(f"A new key file will be made at {path}. Keep the passphrase safe: without it the "
                   "pseudonyms cannot be traced back, and no one can recover it.", err=True)
    return click.prompt("Passphrase for the pseudonym key", hide_input=True, confirmation_prompt=new, err=True)


def _unlock(ws, key_file: Path | None):
    from chimeqda.services.pseudonymise import unlock_key

    return unlock_key(ws, _passphrase(key_file, ws), key_file)


@click.command()
@click.argument("documents", nargs=-1)
@project_options
@click.option("--key-file", type=click.Path(dir_okay=False, path_type=Path),
              help="The encrypted pseudonym key (default: ~/.config/chimeqda/keys/<project key id>.key; "
                   "never inside the project folder). Passphrase from CHIMEQDA_KEY_PASSPHRASE or a prompt.")
@click.option("--add-name", "add_names", multiple=True, metavar="NAME",
              help="A name to find everywhere (repeatable), e.g. --add-name \"Big Mike\". Kept in the key file.")
@click.option("--participants", "participants_csv", type=click.Path(dir_okay=False, path_type=Path),
              help="Participants CSV with 'name' and 'aliases' (;-separated) columns: read into the key file only.")
@click.option("--review", is_flag=True, help="Go through the proposals with the keyboard: confirm, reject, add.")
@click.option("--confirm-all", is_flag=True,
              help="Confirm the undecided proposals with strong evidence (name lists, patterns, score ≥ 0.7); "
                   "weaker ones stay for --review.")
@click.option("--apply", "apply_", is_flag=True,
              help="Replace confirmed identifiers with pseudonyms: a new version of each document, codings kept.")
@click.option("--substitute", type=click.Choice(["labels", "names"]),
              help="Pseudonym style for people: [Person 3] (labels, default) or a substitute first name (names).")
@click.option("--purge-originals", is_flag=True,
              help="Mask the confirmed real values (█, same length) in every earlier version of the documents, "
                   "for projects pseudonymised before --apply did this itself; then compact the database.")
@click.option("--yes", is_flag=True, help="With --purge-originals: do not ask for confirmation.")
@click.option("--reveal", is_flag=True, help="Show the real value behind pseudonyms (with --reason; logged).")
@click.option("--pseudonym", "pseudonyms", multiple=True, help="With --reveal: only this pseudonym (repeatable).")
@click.option("--reason", default="", help="With --reveal: why (required; written to the audit log).")
@click.option("--detect-only", is_flag=True, help="No project: detect identifiers in --input JSONL, write --output.")
@click.option("--input", "input_path", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="With --detect-only: JSONL lines {\"id\", \"text\", \"lang\"}.")
@click.option("--output", "output_path", type=click.Path(dir_okay=False, path_type=Path),
              help="With --detect-only: JSONL lines {\"id\", \"spans\": [{\"start\", \"end\", \"label\"}]}.")
@friendly_errors
def pseudonymise(documents: tuple[str, ...], project_dir: Path, db: str | None, key_file: Path | None,
                 add_names: tuple[str, ...], participants_csv: Path | None, review: bool, confirm_all: bool,
                 apply_: bool, substitute: str | None, purge_originals: bool, yes: bool, reveal: bool, pseudonyms: tuple[str, ...], reason: str,
                 detect_only: bool, input_path: Path | None, output_path: Path | None) -> None:
    """Find identifiers (names, places, organisations, dates, contacts, ages), review them, replace them.

    Without --review/--apply/--reveal: detect and store proposals. The same
    real value gets the same pseudonym in every document; the key (real value
    → pseudonym) is kept encrypted outside the project.

    Example: chimeqda pseudonymise -p my-study --participants names.csv --review --apply
    """
    if detect_only:
        _detect_only(input_path, output_path, add_names)
        return
    from chimeqda.services import pseudonymise as service
    from chimeqda.services.privacy_audit import opt_in

    ws = open_project(project_dir, db)
    user = current_user()
    opt_in(ws, substitute=substitute)
    key = _unlock(ws, key_file)
    if reveal:
        for pseudonym, label, value in service.reveal(ws, key, pseudonyms, reason=reason, user=user):
            echo(f"{pseudonym}\t{label}\t{value}")
        echo("(logged in the audit trail with your reason)", err=True)
        return
    if purge_originals:
        _purge(ws, key, user, yes)
        return
    changed = sum(key.add_name(name) for name in add_names)
    if participants_csv:
        changed += service.names_from_participants(key, participants_csv)
    if changed:
        key.save()
        echo(f"{changed} name(s) added to the key file", err=True)
    selected = list(documents) or None
    if _needs_detection(ws, selected, review or apply_ or confirm_all) or add_names or participants_csv:
        echo("detecting identifiers (the first run loads the language models) …", err=True)
        for summary in service.detect_identifiers(ws, key, selected, user=user):
            kinds = ", ".join(f"{n} {label.lower()}" for label, n in sorted(summary.labels.items())) or "none"
            echo(f"{summary.document}: {summary.proposed} proposal(s) ({kinds}); "
                       f"{summary.decided} earlier decision(s) kept")
    if review:
        _review(ws, selected, user)
    if confirm_all:
        confirmed, left = service.confirm_strong(ws, selected, user=user)
        echo(f"{confirmed} proposal(s) with strong evidence confirmed (name lists, patterns, score ≥ "
                   f"{service.CONFIRM_ALL_MIN_SCORE}); {left} weaker proposal(s) left for --review")
    if apply_:
        applied = service.apply_pseudonyms(ws, key, selected, user=user)
        for outcome in applied:
            echo(f"{outcome.document}: {outcome.replacements} replacement(s), now version {outcome.version}")
        if applied.scrub is not None and applied.scrub.versions:
            echo(f"real values masked in {applied.scrub.versions} earlier version(s) "
                       f"({applied.scrub.characters} character(s) of text, {applied.scrub.fields} other field(s)); "
                       f"{applied.database}")
        echo("Check the project with: chimeqda privacy-check")
    elif not review:
        echo("Next: chimeqda pseudonymise --review, then --apply")


def _purge(ws, key, user: str, yes: bool) -> None:
    from chimeqda.services.pseudonymise import purge_originals

    if not yes:
        click.confirm("Mask every confirmed real value in all earlier document versions? The masked characters "
                      "cannot be restored (the key file keeps the values)", abort=True, err=True)
    result, database = purge_originals(ws, key, user=user)
    echo(f"real values masked in {result.versions} earlier version(s) ({result.characters} character(s) of "
               f"text, {result.fields} other field(s)); {database}")


def _needs_detection(ws, documents: list[str] | None, other_action: bool) -> bool:
    """Detect when asked for nothing else, or when a document to review was never checked."""
    from chimeqda.services.privacy_audit import document_statuses

    if not other_action:
        return True
    with ws.session() as session:
        statuses = document_statuses(session, ws.project_id)
    return any(status == "not checked" for name, status in statuses.items() if not documents or name in documents)


def _detect_only(input_path: Path | None, output_path: Path | None, names: tuple[str, ...]) -> None:
    from chimeqda.privacy.detect import detect_jsonl

    if input_path is None or output_path is None:
        raise InvalidInput("--detect-only needs --input FILE.jsonl and --output FILE.jsonl")
    detect_jsonl(input_path, output_path, names=names)
    echo(f"wrote {output_path}")


def _shown(proposal) -> str:
    """The proposal in its context, the proposed text highlighted (only that escape is ours: the rest is made safe)."""
    shown = lambda text: terminal_safe(text.replace("\n", " ⏎ "))  # noqa: E731
    mark = click.style(shown(proposal.text), reverse=True, bold=True)
    context = f"{shown(proposal.before)}{mark}{shown(proposal.after)}"
    score = f", {proposal.score:.2f}" if proposal.score is not None else ""
    return terminal_safe(f"{proposal.document}  {proposal.label}  ({proposal.source}{score})") + f"\n    …{context}…"


def _review(ws, documents: list[str] | None, user: str) -> None:
    """One key per decision; decisions are stored at once, so stopping loses nothing."""
    from chimeqda.privacy.keyfile import normalise_value
    from chimeqda.services import pseudonymise as service

    echo(REVIEW_KEYS, err=True)
    skipped: set[int] = set()
    while True:
        pending = [p for p in service.list_proposals(ws, documents, status="proposed") if p.id not in skipped]
        if not pending:
            echo("Nothing left to review." if not skipped else f"{len(skipped)} proposal(s) skipped.")
            return
        proposal = pending[0]
        click.echo(f"\n[{len(pending)} left] {_shown(proposal)}")  # _shown escapes its parts
        key = click.getchar()
        same = [p.id for p in pending if normalise_value(p.text) == normalise_value(proposal.text)]
        if key == "y":
            service.decide_proposals(ws, [proposal.id], "confirmed", user=user)
        elif key == "n":
            service.decide_proposals(ws, [proposal.id], "rejected", user=user)
        elif key in ("Y", "N"):
            service.decide_proposals(ws, same, "confirmed" if key == "Y" else "rejected", user=user)
            echo(f"  {len(same)} occurrence(s) {'confirmed' if key == 'Y' else 'rejected'}")
        elif key in LABEL_KEYS:
            service.decide_proposals(ws, [proposal.id], "confirmed", user=user, label=LABEL_KEYS[key])
        elif key == "+":
            _mark(ws, proposal.document_id, user)
        elif key == "s":
            skipped.add(proposal.id)
        elif key == "q":
            echo("Stopped; decisions so far are saved.")
            return
        else:
            echo(f"  ? {REVIEW_KEYS}", err=True)


def _mark(ws, document_id: int, user: str) -> None:
    import re

    from chimeqda.services import pseudonymise as service
    from chimeqda.store import tables as t

    words = click.prompt("  text to mark (every occurrence in this document)", default="", show_default=False)
    if not words.strip():
        return
    label = click.prompt("  kind", type=click.Choice(list(LABEL_KEYS.values())), default="PERSON")
    with ws.session() as session:
        text = session.get(t.Document, document_id).text
    marked = 0
    for match in re.finditer(rf"(?<!\w){re.escape(words.strip())}(?!\w)", text, re.IGNORECASE):
        try:
            service.add_proposal(ws, document_id, match.start(), match.end(), label, user=user)
            marked += 1
        except InvalidInput as exc:
            echo(f"  {exc}", err=True)
    echo(f"  {marked} occurrence(s) marked")


@click.command("privacy-check")
@project_options
@click.option("--key-file", type=click.Path(dir_okay=False, path_type=Path),
              help="Also search for every value in the key (needs CHIMEQDA_KEY_PASSPHRASE).")
@friendly_errors
def privacy_check(project_dir: Path, db: str | None, key_file: Path | None) -> None:
    """List what could still identify someone: documents not pseudonymised, identifiers found again, early exports.

    Exits with status 1 when it finds something.

    Example: chimeqda privacy-check -p my-study
    """
    from chimeqda.privacy.keyfile import PASSPHRASE_ENV
    from chimeqda.services.privacy_audit import opt_in_settings
    from chimeqda.services.privacy_check import privacy_check as check
    from chimeqda.services.pseudonymise import unlock_key

    ws = open_project(project_dir, db)
    wanted = os.environ.get(PASSPHRASE_ENV) and opt_in_settings(ws).get("key_id")
    key = unlock_key(ws, os.environ[PASSPHRASE_ENV], key_file, create=False) if wanted else None
    result = check(ws, key)
    if result.not_pseudonymised:
        echo(f"Documents not yet pseudonymised ({len(result.not_pseudonymised)}):")
        for name, status in result.not_pseudonymised:
            echo(f"  {name}: {status}")
    if result.found_again:
        echo(f"Identifiers found again ({len(result.found_again)}), shown as their pseudonym:")
        for finding in result.found_again:
            echo(f"  {finding.where}: {finding.label} {finding.excerpt}")
    if result.early_exports:
        echo(f"Exports made while documents were identifiable ({len(result.early_exports)}):")
        for entry in result.early_exports:
            echo(f"  {entry.at:%Y-%m-%d %H:%M} {entry.user}: {entry.detail.get('kind')} "
                       f"{entry.detail.get('file')} ({_export_count(entry.detail)} document(s))")
    if result.unscrubbed:
        echo(f"Earlier document versions still holding real values ({len(result.unscrubbed)}):")
        for (name, version), count in sorted(result.unscrubbed.items()):
            echo(f"  {name} v{version}: {count} occurrence(s)")
        echo("  Mask them with: chimeqda pseudonymise -p PROJECT --purge-originals")
    if result.files:
        echo(f"Files whose raw bytes still hold real values ({len(result.files)}):")
        for path, count in result.files:
            advice = ("a backup copy made before a schema upgrade: delete it once you no longer need it"
                      if ".bak-" in path else "old bytes in free pages or the write-ahead log: run chimeqda "
                      "pseudonymise -p PROJECT --purge-originals (it compacts the file)")
            echo(f"  {path}: {count} value(s) — {advice}")
    if result.clean:
        echo("No problems found." + ("" if key else f" (Set {PASSPHRASE_ENV} to search for every value in "
                                                        "the key too.)"))
    else:
        raise SystemExit(1)


@click.command()
@click.argument("document", required=False)
@project_options
@click.option("--csv", "csv_out", type=click.Path(dir_okay=False, path_type=Path), help="Also write the trail as CSV.")
@friendly_errors
def audit(document: str | None, project_dir: Path, db: str | None, csv_out: Path | None) -> None:
    """Show the privacy audit trail: who pseudonymised, confirmed, revealed, exported or viewed what, and when.

    Example: chimeqda audit -p my-study P07.txt --csv audit.csv
    """
    from chimeqda.services.privacy_audit import audit_csv, audit_trail

    ws = open_project(project_dir, db)
    entries = audit_trail(ws, document)
    for entry in entries:
        detail = ", ".join(f"{k}={v}" for k, v in sorted(entry.detail.items()) if v not in ({}, [], ""))
        reason = f" — {entry.reason}" if entry.reason else ""
        echo(f"{entry.at:%Y-%m-%d %H:%M:%S}  {entry.user:<12} {entry.action:<13} {entry.document}"
                   f"{reason}{'  (' + detail + ')' if detail else ''}")
    if not entries:
        echo("No entries yet.")
    if csv_out:
        csv_out.write_text(audit_csv(entries), encoding="utf-8")
        echo(f"written {csv_out}", err=True)


def _export_count(detail: dict) -> int:
    """Documents an export entry says were not pseudonymised (entries before the count listed every name)."""
    return int(detail.get("unpseudonymised_count", len(detail.get("unpseudonymised", []))))


COMMANDS = (pseudonymise, privacy_check, audit)
