"""Benchmark: offline transcription with the shipped Whisper base model (int8, CPU).

Speaks synthetic interviews with espeak-ng (English and Dutch, mono and stereo),
transcribes each in a fresh child process with 2 threads and reports the
real-time factor (transcription time / audio duration; model load measured
separately), the peak memory of the process, and the word error rate against
the script. A 90-minute recording (the English interview repeated) is decoded
in the transcriber's windows to show the memory a long file needs. Rewrites the
``asr-bench`` section of docs/benchmarks.md. Not a test.

    .venv/bin/python benchmarks/asr_bench.py [--long-minutes 90]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "benchmarks.md"
START, END = "<!-- asr-bench:start -->", "<!-- asr-bench:end -->"

ENGLISH = [
    (0, "Thank you for meeting me again. How have the last few months been for you?"),
    (1, "They have been better than I expected. I found a small job in a bakery, and I go there every morning."),
    (0, "What does the work give you?"),
    (1, "It gives me a rhythm. I get up early, I see the same people, and at the end of the day I am tired in a good way."),
    (0, "And the meetings, do you still go?"),
    (1, "Yes, twice a week. My sponsor calls me on Sundays. When I had a bad week in March, the group was there for me."),
    (0, "What happened in March?"),
    (1, "My father was in hospital, and I felt the old panic coming back. I wanted to use. I called my sponsor instead."),
    (0, "How did that feel afterwards?"),
    (1, "I was proud, honestly. A year ago I would not have picked up the phone. Now I know I am not alone with it."),
    (0, "If you look ahead, what do you hope for?"),
    (1, "I hope to have my own place next year, and I want to help new members the way people helped me."),
]
DUTCH = [
    (0, "Dank je wel dat je wilde meedoen. Hoe gaat het op dit moment met je?"),
    (1, "Het gaat goed. Ik werk nu drie dagen per week en ik woon weer op mezelf."),
    (0, "Wat betekent de groep voor jou?"),
    (1, "De groep is mijn vangnet. Daar mag ik zijn wie ik ben, en niemand veroordeelt mij."),
    (0, "En wat wil je nog bereiken?"),
    (1, "Ik wil mijn diploma halen en later andere mensen helpen die in dezelfde situatie zitten."),
]


def words(text: str) -> list[str]:
    return re.sub(r"[^\w\s]", " ", text.lower()).split()


def wer(reference: str, hypothesis: str) -> float:
    ref, hyp = words(reference), words(hypothesis)
    row = list(range(len(hyp) + 1))
    for i, word in enumerate(ref, start=1):
        previous, row[0] = row[0], i
        for j, other in enumerate(hyp, start=1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + (word != other))
    return row[-1] / max(len(ref), 1)


def peak_mb() -> float:
    """This process's peak resident memory (VmHWM: unlike ru_maxrss, not inherited from the parent)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def worker_transcribe(path: str, language: str | None = None) -> dict:
    from chimeqda.audio.transcribe import AsrSettings, load_model, transcribe_file

    settings = AsrSettings(cpu_threads=2, language=language, diarise=False)  # diarisation: diarise_bench.py
    started = time.perf_counter()
    load_model(settings)
    load = time.perf_counter() - started
    cpu = time.process_time()
    started = time.perf_counter()
    transcript = transcribe_file(path, settings)
    seconds = time.perf_counter() - started
    doc = transcript.document()
    return {"load": load, "seconds": seconds, "cpu": time.process_time() - cpu, "duration": transcript.info.duration,
            "text": doc.text, "language": transcript.language, "turns": len(doc.turns),
            "rss_mb": peak_mb()}


def worker_decode(path: str) -> dict:
    from chimeqda.audio.transcribe import windows

    started = time.perf_counter()
    total, count = 0, 0
    for _, window in windows(Path(path), 1, 600.0):
        total += window.shape[1]
        count += 1
    return {"seconds": time.perf_counter() - started, "audio_s": total / 16000, "windows": count,
            "rss_mb": peak_mb()}


def write_long_wav(path: Path, samples, repeats: int) -> Path:
    """``samples`` repeated ``repeats`` times as 16-bit WAV, written piece by piece."""
    import wave

    import numpy as np

    from chimeqda.audio.synthetic import RATE

    data = (np.clip(samples[0], -1, 1) * 32767).astype("<i2").tobytes()
    with wave.open(str(path), "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(RATE)
        for _ in range(repeats):
            writer.writeframes(data)
    return path


def in_child(function: str, *args: str) -> dict:
    code = f"import json, sys; sys.path.insert(0, {str(ROOT / 'benchmarks')!r}); import asr_bench; " \
           f"print(json.dumps(asr_bench.{function}(*sys.argv[1:])))"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]))
    done = subprocess.run([sys.executable, "-c", code, *args], check=True, capture_output=True, text=True, env=env)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--long-minutes", type=float, default=90.0)
    parser.add_argument("--transcribe-long", action="store_true",
                        help="also transcribe the long recording (about 11 minutes of work for 90 minutes)")
    args = parser.parse_args()

    from chimeqda.audio.model import base_model_dir
    from chimeqda.audio.synthetic import RATE, encode, speak_script, write_wav

    base_model_dir()  # assembled once, not timed
    folder = Path(tempfile.mkdtemp(prefix="chimeqda-asr-bench-"))
    cases = []
    en_mono, _ = speak_script(ENGLISH, "en", gap=0.9)
    en_stereo, _ = speak_script(ENGLISH, "en", stereo=True, gap=0.9)
    nl_mono, _ = speak_script(DUTCH, "nl", gap=0.9)
    files = {
        "English, mono (.wav)": (write_wav(folder / "en-mono.wav", en_mono), None, ENGLISH),
        "English, stereo, one voice per channel (.opus)":
            (encode(write_wav(folder / "en-stereo.wav", en_stereo), folder / "en-stereo.opus"), None, ENGLISH),
        "Dutch, mono (.wav), language detected": (write_wav(folder / "nl-mono.wav", nl_mono), None, DUTCH),
        "Dutch, mono (.wav), `--language nl`": (folder / "nl-mono.wav", "nl", DUTCH),
    }
    for label, (path, language, script) in files.items():
        result = in_child("worker_transcribe", str(path), *([language] if language else []))
        result["wer"] = wer(" ".join(text for _, text in script), result.pop("text"))
        cases.append((label, result))
        print(label, {k: round(v, 3) if isinstance(v, float) else v for k, v in result.items()}, file=sys.stderr)
    repeats = max(1, int(args.long_minutes * 60 / (en_mono.shape[1] / RATE)))
    long_path = write_long_wav(folder / "long.wav", en_mono, repeats)
    decode = in_child("worker_decode", str(long_path))
    print("decode", decode, file=sys.stderr)
    if args.transcribe_long:
        long = in_child("worker_transcribe", str(long_path))
        reference = " ".join(" ".join(text for _, text in ENGLISH) for _ in range(repeats))
        long["wer"] = wer(reference, long.pop("text"))
        cases.append((f"English, mono, {long['duration'] / 60:.0f} minutes (the interview {repeats} times)", long))
        print("long", {k: v for k, v in long.items()}, file=sys.stderr)
    long_path.unlink()
    write_section(cases, decode)


def write_section(cases: list[tuple[str, dict]], decode: dict) -> None:
    import faster_whisper

    load = os.getloadavg()[0]
    rows = "\n".join(
        f"| {label} | {r['duration']:.0f} | {r['load']:.1f} | {r['seconds']:.1f} | **{r['seconds'] / r['duration']:.2f}×** "
        f"| {r['cpu'] / r['duration']:.2f}× | {r['rss_mb']:,.0f} | {r['language']} | {r['turns']} | {r['wer']:.1%} |"
        for label, r in cases)
    section = f"""{START}
## Transcription of recordings (Whisper base, int8, 2 threads)

`.venv/bin/python benchmarks/asr_bench.py` — {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()},
faster-whisper {faster_whisper.__version__}, {time.strftime('%Y-%m-%d')}; load average {load:.1f} at the end (the cores
were shared with other jobs, so wall times are upper bounds; CPU time ÷ duration is the cost on an idle machine,
divided by up to 2 when both cores are free). Synthetic interviews spoken by espeak-ng from a known script; each row
is a fresh process (model load timed separately; peak RSS is the whole process's VmHWM); mono without diarisation
(measured below).

| recording | duration (s) | model load (s) | transcription (s) | real-time factor | CPU time ÷ duration | peak RSS (MB) | language | turns | WER vs script |
|---|---|---|---|---|---|---|---|---|---|
{rows}

The long recording ({decode['audio_s'] / 60:.0f} minutes) decoded the way the transcriber reads it ({decode['windows']} windows of at most
10.5 minutes, 16 kHz float): {decode['seconds']:.1f} s, peak RSS {decode['rss_mb']:,.0f} MB — memory follows the window,
not the length of the file (the whole file at 16 kHz would be {decode['audio_s'] * 16000 * 4 / 1e6:,.0f} MB as float32).
Targets: ≤ 0.25× real time and < 1.5 GB for base int8 on 2 cores. espeak-ng's Dutch is far from natural speech: Whisper
base often takes it for English when left to detect the language, and its Dutch error rates here say more about the
synthetic voice than about Dutch interviews; `--asr-model` with a larger model is the advice for Dutch (docs/recordings.md).
{END}"""
    text = DOC.read_text(encoding="utf-8")
    if START in text:
        text = text[: text.index(START)] + section + text[text.index(END) + len(END):]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    DOC.write_text(text, encoding="utf-8")
    print(f"wrote the asr-bench section of {DOC}", file=sys.stderr)


if __name__ == "__main__":
    main()
