"""Assembling the shipped Whisper base model: vocabulary, checksum, atomic writes."""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path

import pytest

from chimeqda.audio import model
from chimeqda.errors import ModelUnavailable


def _data(package):
    return Path(next(iter(importlib.util.find_spec(package).submodule_search_locations))) / "data"


def test_the_vocabulary_is_rebuilt_from_the_tokenizer():
    tokens = model.vocabulary_from_tokenizer(_data(model.PART_PACKAGES[0]) / "tokenizer.json")
    assert len(tokens) == 51_865
    assert tokens[50_257] == "<|endoftext|>" and tokens[50_363] == "<|notimestamps|>"
    assert tokens[50_364] == "<|0.00|>" and tokens[-1] == "<|30.00|>" and tokens[50_365] == "<|0.02|>"
    shipped = _data(model.PART_PACKAGES[0]) / "vocabulary.txt"
    if shipped.exists():  # later package versions may leave it out; then only the rebuild counts
        assert shipped.read_text(encoding="utf-8").splitlines() == tokens


def test_the_model_is_assembled_once_with_the_recorded_checksum(tmp_path):
    folder = model.base_model_dir(tmp_path / "asr")
    assert hashlib.sha256((folder / "model.bin").read_bytes()).hexdigest() == model.BASE_MODEL_SHA256
    assert len((folder / "vocabulary.txt").read_text(encoding="utf-8").splitlines()) == 51_865
    stamp = (folder / "model.bin").stat().st_mtime_ns
    assert model.base_model_dir(tmp_path / "asr") == folder
    assert (folder / "model.bin").stat().st_mtime_ns == stamp  # not assembled again
    assert model.model_sha256(folder) == model.BASE_MODEL_SHA256
    assert not [p for p in folder.iterdir() if p.name.endswith(".partial")]


def test_a_checksum_mismatch_is_refused_and_leaves_no_model(tmp_path):
    parts = [tmp_path / "a", tmp_path / "b"]
    parts[0].write_bytes(b"half of")
    parts[1].write_bytes(b" a model")
    target = tmp_path / "model.bin"
    with pytest.raises(ModelUnavailable, match="sha256"):
        model._assemble_model_bin(parts, target, "0" * 64)
    assert list(tmp_path.iterdir()) == parts or sorted(tmp_path.iterdir()) == sorted(parts)
    good = hashlib.sha256(b"half of a model").hexdigest()
    model._assemble_model_bin(parts, target, good)
    assert target.read_bytes() == b"half of a model"


def test_an_interrupted_assembly_leaves_no_model(tmp_path):
    parts = [tmp_path / "a", tmp_path / "missing"]
    parts[0].write_bytes(b"x" * 1000)
    with pytest.raises(OSError):
        model._assemble_model_bin(parts, tmp_path / "model.bin", "0" * 64)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a"]


def test_a_model_folder_is_checked(tmp_path):
    with pytest.raises(ModelUnavailable, match="does not exist"):
        model.check_model_dir(tmp_path / "nowhere")
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(ModelUnavailable, match="model.bin missing"):
        model.check_model_dir(tmp_path)
