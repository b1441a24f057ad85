"""The key file: encrypted, owner-only, written atomically; a wrong passphrase changes nothing."""

from __future__ import annotations

import os
import stat

import pytest

from chimeqda.errors import InvalidInput, WrongPassphrase
from chimeqda.privacy.keyfile import create_key, default_key_path, open_key


def test_a_key_round_trips_encrypted_and_owner_only(tmp_path):
    path = tmp_path / "keys" / "k.key"
    ring = create_key(path, "sufficiently long", "k1")
    ring.add_name("Big Mike")
    ring.remember("Mieke", "PERSON", "[Person 1]")
    ring.save()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert sorted(p.name for p in path.parent.iterdir()) == ["k.key"]  # no temporary file left behind
    raw = path.read_bytes()
    assert b"Mieke" not in raw and b"Big Mike" not in raw
    again = open_key(path, "sufficiently long", "k1")
    assert again.value_hash("  MIEKE ") == ring.value_hash("Mieke") != ring.value_hash("Mike")
    assert {v for v, _ in again.known_values()} == {"Big Mike", "Mieke"}


def test_a_wrong_passphrase_or_another_projects_key_is_refused(tmp_path):
    path = tmp_path / "k.key"
    create_key(path, "sufficiently long", "k1")
    before = path.read_bytes()
    with pytest.raises(WrongPassphrase, match="nothing was changed"):
        open_key(path, "something else", "k1")
    with pytest.raises(InvalidInput, match="another project"):
        open_key(path, "sufficiently long", "k2")
    with pytest.raises(InvalidInput, match="exists already"):
        create_key(path, "sufficiently long", "k1")
    with pytest.raises(InvalidInput, match="at least"):
        create_key(tmp_path / "other.key", "short", "k3")
    assert path.read_bytes() == before


def test_a_damaged_key_file_says_so(tmp_path):
    path = tmp_path / "k.key"
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(InvalidInput, match="not a chimeqda key file"):
        open_key(path, "sufficiently long")


def test_the_default_key_lives_in_the_users_config_folder(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert default_key_path("abc") == tmp_path / "chimeqda" / "keys" / "abc.key"
