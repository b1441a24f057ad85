"""Who spoke when in a mono recording: offline speaker diarisation with Resemblyzer.

Resemblyzer (PyPI, Apache-2.0) ships a pretrained GE2E voice encoder
(``resemblyzer/pretrained.pt``) inside its wheel, so nothing is downloaded.
While a recording is transcribed, :class:`VoiceEmbeddings` embeds its speech
window by window: the stretches where Whisper heard words (joined across
gaps shorter than :data:`REGION_GAP`), each cut into 1.6-second partials every
``hop`` seconds, each partial a 256-number voice print. Only the prints are
kept, so memory grows with the speech, not with the audio. At the end the
prints are clustered into the given number of speakers (spherical k-means),
each word goes to the speaker whose voice its partials resemble most, and
every Whisper segment is split into runs of words per speaker
(:func:`split_by_speaker`). Speakers are named ``Speaker 1``, ``Speaker 2``…
in the order they first speak. :func:`suggest_interviewer` proposes the one
who asks most questions (the first to speak on a tie) as the interviewer;
the researcher corrects it with ``chimeqda speakers``.
"""

from __future__ import annotations

import hashlib
import importlib.util
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ModelUnavailable
from ..ingest.timed import Utterance

SAMPLE_RATE = 16_000
REGION_GAP = 0.3  # seconds between words that still belong to one stretch of speech
PARTIAL_SECONDS = 1.6  # the encoder's window (160 mel frames)
MIN_REGION = 0.25  # shorter stretches are not embedded; their words take the nearest print
DIARISE_HINT = ("speaker diarisation needs Resemblyzer: run scripts/setup.sh, or "
                "pip install 'chimeqda[audio]' && pip install --no-deps resemblyzer==0.1.4")


def diarisation_available() -> bool:
    """Whether the voice encoder and what it imports (librosa, webrtcvad) are installed."""
    return all(importlib.util.find_spec(name) is not None for name in ("resemblyzer", "librosa", "webrtcvad"))


_ENCODER: dict[str, object] = {}


def _encoder():
    """Resemblyzer's voice encoder on the CPU (loaded once per process) and its weights file."""
    if "model" not in _ENCODER:
        if not diarisation_available():
            raise ModelUnavailable(DIARISE_HINT)
        with warnings.catch_warnings():  # resemblyzer imports scipy.ndimage.morphology (deprecated)
            warnings.simplefilter("ignore", DeprecationWarning)
            import resemblyzer
            from resemblyzer import VoiceEncoder
        weights = Path(resemblyzer.__file__).resolve().parent / "pretrained.pt"
        if not weights.is_file():
            raise ModelUnavailable(f"{weights} is missing; {DIARISE_HINT}")
        try:
            _ENCODER["model"] = VoiceEncoder(device="cpu", verbose=False)
        except Exception as exc:  # noqa: BLE001 - torch raises many kinds on a damaged file
            raise ModelUnavailable(f"the voice encoder {weights} cannot be loaded ({exc}); {DIARISE_HINT}") from None
        _ENCODER["weights"] = weights
    return _ENCODER["model"], _ENCODER["weights"]


def encoder_provenance() -> dict[str, object]:
    """Which voice encoder diarised: package, version and the sha256 of its weights."""
    from importlib.metadata import version

    _, weights = _encoder()
    if "sha256" not in _ENCODER:
        _ENCODER["sha256"] = hashlib.sha256(Path(weights).read_bytes()).hexdigest()
    return {"model": "Resemblyzer GE2E voice encoder (pretrained.pt)", "resemblyzer": version("resemblyzer"),
            "model_sha256": _ENCODER["sha256"]}


@contextmanager
def _one_torch_thread() -> Iterator[None]:
    """Run the small encoder on one thread: torch's thread pool made it ~25× slower on shared cores."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


@dataclass
class VoiceEmbeddings:
    """Voice prints of a recording's speech, added window by window while it is transcribed."""

    hop: float = 0.4  # seconds between partials
    centres: list[float] = field(default_factory=list)  # recording time of each print
    regions: list[tuple[float, float]] = field(default_factory=list)  # stretch (start, end) of each print
    vectors: list = field(default_factory=list)

    def add(self, mono, offset: float, words: list[tuple[float, float]]) -> None:
        """Embed the speech of one window: ``mono`` at 16 kHz from ``offset`` s, ``words`` as absolute (start, end)."""
        encoder, _ = _encoder()  # imports resemblyzer with its deprecation warning silenced
        from resemblyzer.audio import normalize_volume

        with _one_torch_thread():
            self._add(encoder, normalize_volume, mono, offset, words)

    def _add(self, encoder, normalize_volume, mono, offset: float, words: list[tuple[float, float]]) -> None:
        import numpy as np

        for start, end in speech_regions(words):
            first = max(0, int((start - offset) * SAMPLE_RATE))
            last = min(len(mono), int((end - offset) * SAMPLE_RATE))
            if last - first < MIN_REGION * SAMPLE_RATE:
                continue
            wav = np.ascontiguousarray(mono[first:last], dtype=np.float32)
            if not np.any(wav):
                continue
            wav = normalize_volume(wav, -30).astype(np.float32)
            _, partials, slices = encoder.embed_utterance(
                wav, return_partials=True, rate=1 / self.hop, min_coverage=0.5)
            for vector, piece in zip(partials, slices, strict=True):
                centre = offset + (first + (piece.start + min(piece.stop, len(wav))) / 2) / SAMPLE_RATE
                self.centres.append(min(centre, end))
                self.regions.append((start, end))
                self.vectors.append(np.asarray(vector, dtype=np.float32))

    def __len__(self) -> int:
        return len(self.vectors)


def speech_regions(words: list[tuple[float, float]], gap: float = REGION_GAP) -> list[tuple[float, float]]:
    """Stretches of speech: word times joined where they are less than ``gap`` seconds apart."""
    regions: list[list[float]] = []
    for start, end in sorted(words):
        if regions and start - regions[-1][1] < gap:
            regions[-1][1] = max(regions[-1][1], end)
        else:
            regions.append([start, end])
    return [(a, b) for a, b in regions]


def cluster(vectors, speakers: int, *, restarts: int = 8, seed: int = 0):
    """Spherical k-means of unit vectors into ``speakers`` groups: (labels, centroids), best of ``restarts``."""
    import numpy as np

    data = np.asarray(vectors, dtype=np.float64)
    data /= np.linalg.norm(data, axis=1, keepdims=True) + 1e-12
    count = min(speakers, len(data))
    rng = np.random.default_rng(seed)
    best = None
    for _ in range(restarts):
        centroids = [data[rng.integers(len(data))]]
        while len(centroids) < count:  # k-means++: far from the chosen ones is likelier
            distance = np.clip(1 - np.max(data @ np.array(centroids).T, axis=1), 0, None) ** 2
            total = distance.sum()
            pick = rng.choice(len(data), p=distance / total) if total > 0 else rng.integers(len(data))
            centroids.append(data[pick])
        centre = np.array(centroids)
        for _ in range(50):
            labels = np.argmax(data @ centre.T, axis=1)
            moved = np.array([data[labels == k].sum(axis=0) if np.any(labels == k) else centre[k]
                              for k in range(count)])
            moved /= np.linalg.norm(moved, axis=1, keepdims=True) + 1e-12
            if np.allclose(moved, centre):
                break
            centre = moved
        score = float(np.sum(np.max(data @ centre.T, axis=1)))
        if best is None or score > best[0]:
            best = (score, np.argmax(data @ centre.T, axis=1), centre)
    assert best is not None
    return best[1], best[2]


@dataclass(frozen=True)
class Diarisation:
    """Each print's speaker, and how to find the speaker of any moment."""

    centres: object  # array of print times
    regions: list[tuple[float, float]]
    similarity: object  # array (prints, speakers): cosine similarity of each print to each speaker
    names: tuple[str, ...]  # speaker name by cluster

    def speaker_at(self, start: float, end: float) -> str:
        """The speaker of the words from ``start`` to ``end`` s: the voice most like the prints around them."""
        import numpy as np

        middle = (start + end) / 2
        centres = self.centres
        near = np.abs(centres - middle) <= PARTIAL_SECONDS / 2
        inside = np.array([a - 0.05 <= middle <= b + 0.05 for a, b in self.regions])
        chosen = near & inside
        if not np.any(chosen):
            chosen = near if np.any(near) else np.abs(centres - middle) == np.min(np.abs(centres - middle))
        return self.names[int(np.argmax(self.similarity[chosen].mean(axis=0)))]


def diarise(embeddings: VoiceEmbeddings, speakers: int) -> Diarisation | None:
    """Cluster the prints into ``speakers`` voices; None when there is no speech to cluster."""
    import numpy as np

    if not len(embeddings):
        return None
    labels, centroids = cluster(embeddings.vectors, speakers)
    data = np.asarray(embeddings.vectors, dtype=np.float64)
    data /= np.linalg.norm(data, axis=1, keepdims=True) + 1e-12
    order: list[int] = []
    for label in labels[np.argsort(embeddings.centres, kind="stable")]:
        if int(label) not in order:
            order.append(int(label))
    names = [""] * len(centroids)
    for rank, label in enumerate(order):
        names[label] = f"Speaker {rank + 1}"
    for label in range(len(centroids)):  # a voice no print is nearest to (not reachable, kept for safety)
        names[label] = names[label] or f"Speaker {len(order) + label + 1}"
    return Diarisation(np.asarray(embeddings.centres), list(embeddings.regions), data @ centroids.T, tuple(names))


def split_by_speaker(utterances: list[Utterance], diarisation: Diarisation) -> list[Utterance]:
    """Every utterance cut into runs of words by the same speaker, each run named."""
    result: list[Utterance] = []
    for utterance in utterances:
        if not utterance.words:
            end = utterance.time_end if utterance.time_end is not None else utterance.time
            speaker = diarisation.speaker_at(utterance.time or 0.0, end or 0.0)
            result.append(Utterance(speaker, utterance.time, utterance.text, utterance.time_end))
            continue
        labels = [diarisation.speaker_at(a, b) for _, a, b, _ in utterance.words]
        labels = _smooth(labels, utterance.words)
        runs: list[tuple[str, list]] = []
        for label, word in zip(labels, utterance.words, strict=True):
            if runs and runs[-1][0] == label:
                runs[-1][1].append(word)
            else:
                runs.append((label, [word]))
        for label, words in runs:
            text = " ".join("".join(w[0] if w[0][:1].isspace() else " " + w[0] for w in words).split())
            result.append(Utterance(label, words[0][1], text, words[-1][2], words))
    return result


def _smooth(labels: list[str], words: list) -> list[str]:
    """A single word whose neighbours both belong to another speaker, with no pause around it, joins them."""
    smoothed = list(labels)
    for i in range(1, len(labels) - 1):
        before, after = labels[i - 1], labels[i + 1]
        pause = max(words[i][1] - words[i - 1][2], words[i + 1][1] - words[i][2])
        if before == after != labels[i] and pause < REGION_GAP:
            smoothed[i] = before
    return smoothed


def suggest_interviewer(utterances: list[Utterance]) -> str | None:
    """The speaker with most turns that ask a question (the first to speak on a tie), or None if nobody asks."""
    asking: dict[str, int] = {}
    turns: list[list] = []  # [speaker, asks]
    for utterance in utterances:
        if utterance.speaker is None:
            continue
        if turns and turns[-1][0] == utterance.speaker:
            turns[-1][1] = turns[-1][1] or "?" in utterance.text
        else:
            turns.append([utterance.speaker, "?" in utterance.text])
    order = list(dict.fromkeys(speaker for speaker, _ in turns))
    for speaker, asks in turns:
        if asks:
            asking[speaker] = asking.get(speaker, 0) + 1
    if not asking:
        return None
    return min(asking, key=lambda speaker: (-asking[speaker], order.index(speaker)))
