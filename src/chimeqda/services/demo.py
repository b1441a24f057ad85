"""The README's main job: the whole path on the bundled synthetic sample study.

init → import (transcripts + participant attributes, and the recorded
interview transcribed offline) → machine coding → review against the
human-coded reference → analysis → report.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from chimeqda.errors import ModelUnavailable, ProjectError
from chimeqda.services.coding import run_coder
from chimeqda.services.importing import import_files
from chimeqda.services.project import init_project
from chimeqda.services.reference import apply_reference
from chimeqda.services.reporting import project_report

ENV_STUDY = "CHIMEQDA_SAMPLE_STUDY"


def sample_study_dir() -> Path:
    """The bundled sample study: ``$CHIMEQDA_SAMPLE_STUDY`` or ``examples/sample-study`` of the source tree."""
    candidates = [os.environ.get(ENV_STUDY)] if os.environ.get(ENV_STUDY) else []
    here = Path(__file__).resolve()
    candidates += [str(parent / "examples" / "sample-study") for parent in here.parents[:4]]
    for candidate in candidates:
        if candidate and (Path(candidate) / "transcripts").is_dir():
            return Path(candidate)
    raise ProjectError(
        "cannot find the sample study (examples/sample-study); run the demo from a chimeqda checkout "
        f"or set {ENV_STUDY} to its folder"
    )


def fresh_folder(base: Path) -> Path:
    """``base`` if it does not exist yet, else ``base-2``, ``base-3``, …"""
    if not base.exists():
        return base
    for n in range(2, 10_000):
        candidate = base.with_name(f"{base.name}-{n}")
        if not candidate.exists():
            return candidate
    raise ProjectError(f"cannot find a free folder name next to {base}")


def _import_recordings(ws, folder: Path, progress: Callable[[str], None]) -> list:
    """The sample study's recorded interview, transcribed on this machine (skipped without the audio extra)."""
    from chimeqda.audio import RECORDING_SUFFIXES

    recordings = sorted(p for p in folder.glob("*") if p.suffix.lower() in RECORDING_SUFFIXES)
    if not recordings:
        return []
    progress(f"      transcribing {', '.join(p.name for p in recordings)} offline (Whisper base)")
    try:
        from chimeqda.services.recordings import import_recordings

        return import_recordings(ws, recordings)
    except ModelUnavailable as exc:
        progress(f"      recording skipped: {exc}")
        return []


@dataclass(frozen=True)
class DemoResult:
    project_dir: Path
    report: Path
    documents: int
    segments: int
    suggestions: int
    accepted: int
    rejected: int
    added: int
    seconds: float


def run_demo(
    out_dir: Path | str | None = None,
    *,
    coder: str | None = None,
    study: Path | str | None = None,
    progress: Callable[[str], None] = lambda message: None,
) -> DemoResult:
    """Run the whole path on the sample study into a fresh folder; returns where things are."""
    started = time.perf_counter()
    study_dir = Path(study) if study else sample_study_dir()
    target = Path(out_dir) if out_dir else fresh_folder(Path.cwd() / "chimeqda-demo")
    if target.exists() and any(target.iterdir()):
        raise ProjectError(f"{target} is not empty; give a new folder with --out")
    project_dir = target / "project"
    progress(f"[1/5] creating the project in {project_dir}")
    ws = init_project(project_dir, name="Sample study (synthetic)", codebook="chime-d")
    progress("[2/5] importing transcripts and participant attributes")
    outcomes = import_files(
        ws, [study_dir / "transcripts"], participants_csv=study_dir / "participants.csv", progress=None
    )
    outcomes += _import_recordings(ws, study_dir / "recordings", progress)
    segments = sum(o.segments for o in outcomes)
    progress(f"      {len(outcomes)} documents, {segments} segments")
    progress("[3/5] machine coding (offline)")
    run = run_coder(ws, coder, progress=lambda m: progress("      " + m))
    progress(f"      {run.suggestions} suggestions from {run.coder.name} {run.coder.version}")
    progress("[4/5] reviewing suggestions against the human-coded reference")
    review = apply_reference(ws, study_dir / "reference-coding.csv")
    progress(
        f"      accepted {review.accepted}, rejected {review.rejected}, "
        f"added {review.added} reference codings the machine missed ({review.documents} documents)"
    )
    progress("[5/5] analysing and writing the report")
    report = project_report(ws, target / "report", include_suggested=True, rigour=True)
    return DemoResult(
        project_dir=project_dir, report=report, documents=len(outcomes), segments=segments,
        suggestions=run.suggestions, accepted=review.accepted, rejected=review.rejected, added=review.added,
        seconds=time.perf_counter() - started,
    )
