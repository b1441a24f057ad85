#!/usr/bin/env python3
"""Consistency check for the synthetic sample study (stdlib only).

Verifies that
  * every file/participant in participants.csv and reference-coding.csv exists,
  * every reference quote occurs verbatim in the participant's speech of its
    transcript (for .txt/.md: inside one participant line of the raw file; for
    .vtt/.srt/.json: inside the text of one participant cue/segment, cue lines
    joined with a single space, speaker label/voice tag removed),
  * every code id is a known CHIME-D id,
and prints counts per code, per category and per file, plus how often each
category shares a quote with Connectedness.

Usage:  python examples/sample-study/check_reference.py   (exit status 1 on error)
"""
import csv
import json
import re
import sys
from collections import Counter, defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
TRANSCRIPTS = HERE / "transcripts"

TOP = ["connectedness", "hope", "identity", "meaning", "empowerment", "difficulties"]
KNOWN = set(TOP) | {
    "connectedness.peer_support", "connectedness.relationships",
    "connectedness.support_from_others", "connectedness.community",
    "connectedness.peer_support.social_network", "connectedness.peer_support.safety_net",
    "connectedness.peer_support.non_judgemental", "connectedness.peer_support.mutual_understanding",
    "hope.motivation", "meaning.spirituality", "meaning.social_roles", "identity.rebuilding",
    "empowerment.responsibility", "difficulties.relapse_cravings", "difficulties.stigma",
    "difficulties.isolation",
}

INTERVIEWER = {"I", "Q", "INT", "Interviewer", "SPEAKER_00"}
LABEL = re.compile(r"^(?:\[(\d\d:\d\d:\d\d)\]\s*)?(I|R|Q|A|INT|Interviewer|Respondent|P\d\d|[A-Z][a-z]+):\s?(.*)$")
TIMING = re.compile(r"^\s*(\d\d:)?\d\d:\d\d[.,]\d{3}\s*-->\s*(\d\d:)?\d\d:\d\d[.,]\d{3}")


def units_text(path):
    """Participant units (line/cue/segment texts) of a transcript, as (speaker, text)."""
    raw = path.read_text(encoding="utf-8-sig")
    ext = path.suffix.lower()
    units = []
    if ext in (".txt", ".md"):
        speaker = None
        for line in raw.splitlines():
            s = line.strip()
            if not s:
                continue
            m = LABEL.match(s)
            if m and (m.group(2) in INTERVIEWER or m.group(2) in ("R", "A", "Respondent", "Sam")
                      or re.fullmatch(r"P\d\d", m.group(2))):
                speaker = m.group(2)
                units.append((speaker, m.group(3)))
            elif speaker is not None and not s.startswith(("#", "---", "*", "- ")):
                units.append((speaker, s))  # continuation line of a multi-line turn
    elif ext in (".vtt", ".srt"):
        blocks = re.split(r"\r?\n\s*\r?\n", raw)
        speaker = None
        for b in blocks:
            lines = b.splitlines()
            idx = next((i for i, l in enumerate(lines) if TIMING.match(l)), None)
            if idx is None:
                continue  # header, NOTE, STYLE
            text = " ".join(l.strip() for l in lines[idx + 1:] if l.strip())
            m = re.match(r"^<v\s+([^>]+)>(.*?)(?:</v>)?$", text)
            if m:
                speaker, text = m.group(1).strip(), m.group(2)
            else:
                m = re.match(r"^([A-Z][A-Z0-9]*):\s?(.*)$", text)
                if m:
                    speaker, text = m.group(1), m.group(2)
            units.append((speaker, text))
    elif ext == ".json":
        for seg in json.loads(raw)["segments"]:
            units.append((seg["speaker"], seg["text"]))
    else:
        raise ValueError(f"unknown transcript type: {path.name}")
    return raw, units


def main():
    errors = []
    participants = list(csv.DictReader(open(HERE / "participants.csv", encoding="utf-8")))
    pfile = {}
    for row in participants:
        if not (TRANSCRIPTS / row["file"]).is_file():
            errors.append(f"participants.csv: missing transcript {row['file']}")
        if not row["file"].startswith(row["participant"] + "-"):
            errors.append(f"participants.csv: {row['participant']} vs file {row['file']}")
        pfile[row["participant"]] = row["file"]
    on_disk = sorted(p.name for p in TRANSCRIPTS.iterdir())
    for name in on_disk:
        if name not in pfile.values():
            errors.append(f"transcript {name} not listed in participants.csv")

    rows = list(csv.DictReader(open(HERE / "reference-coding.csv", encoding="utf-8")))
    cache = {}
    per_code, per_top, per_file = Counter(), Counter(), defaultdict(Counter)
    quote_codes = defaultdict(set)
    turn_codes = defaultdict(set)  # (file, participant turn index) -> categories
    for n, row in enumerate(rows, start=2):
        f, p, code, quote = row["file"], row["participant"], row["code"], row["quote"]
        where = f"reference-coding.csv:{n}"
        if pfile.get(p) != f:
            errors.append(f"{where}: participant {p} / file {f} not in participants.csv")
            continue
        if code not in KNOWN:
            errors.append(f"{where}: unknown code {code!r}")
        if not quote.strip() or quote != quote.strip():
            errors.append(f"{where}: empty quote or leading/trailing whitespace")
        if f not in cache:
            cache[f] = units_text(TRANSCRIPTS / f)
        raw, units = cache[f]
        words = Counter()
        for s, t in units:
            if s not in INTERVIEWER:
                words[s] += len(t.split())
        main_speaker = words.most_common(1)[0][0]  # e.g. SPEAKER_01; a third voice is not the participant
        part = [t for s, t in units if s == main_speaker]
        if not any(quote in t for t in part):
            hint = " (found in interviewer speech)" if any(quote in t for s, t in units if s in INTERVIEWER) else ""
            errors.append(f"{where}: quote not found in participant speech{hint}: {quote[:70]!r}")
        elif Path(f).suffix in (".txt", ".md") and quote not in raw:
            errors.append(f"{where}: quote not a raw substring: {quote[:70]!r}")
        else:
            turn, prev = -1, None
            for s, t in units:  # a turn = consecutive units of one speaker
                if s != prev:
                    turn, prev = turn + 1, s
                if s == main_speaker and quote in t:
                    turn_codes[(f, turn)].add(code.split(".")[0])
                    break
        per_code[code] += 1
        top = code.split(".")[0]
        per_top[top] += 1
        per_file[f][top] += 1
        quote_codes[(f, quote)].add(top)

    print(f"{len(participants)} participants, {len(on_disk)} transcripts, {len(rows)} reference rows, "
          f"{len(quote_codes)} distinct coded quotes in {len(per_file)} files\n")
    print("rows per code:")
    for code, c in sorted(per_code.items()):
        print(f"  {code:50s} {c:4d}")
    print("\nrows per category:")
    for t in TOP:
        print(f"  {t:15s} {per_top[t]:4d}")
    print("\nrows per file and category:")
    print("  " + " " * 30 + " ".join(f"{t[:5]:>6s}" for t in TOP) + "   total")
    for f in sorted(per_file):
        print(f"  {f:30s}" + " ".join(f"{per_file[f][t]:6d}" for t in TOP) + f"   {sum(per_file[f].values()):5d}")
    print("\nco-occurrence with connectedness (same quote | same participant turn):")
    for t in TOP[1:]:
        with_t = [cs for cs in quote_codes.values() if t in cs]
        both = sum(1 for cs in with_t if "connectedness" in cs)
        tw = [cs for cs in turn_codes.values() if t in cs]
        tb = sum(1 for cs in tw if "connectedness" in cs)
        print(f"  {t:15s} quotes {both:3d} / {len(with_t):3d}   turns {tb:3d} / {len(tw):3d}")
    n_turns = len(turn_codes)
    print(f"  ({n_turns} coded participant turns; connectedness in "
          f"{sum(1 for cs in turn_codes.values() if 'connectedness' in cs)})")

    if errors:
        print(f"\n{len(errors)} ERROR(S):")
        for e in errors:
            print("  " + e)
        return 1
    print("\nOK: all quotes found verbatim, all files and participants exist.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
