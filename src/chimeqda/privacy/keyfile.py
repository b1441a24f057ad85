"""The re-identification key: real value → pseudonym, encrypted, kept apart from the project.

One file per project (default ``~/.config/chimeqda/keys/<key id>.key``, never
inside the project folder or the database). Its contents — a random secret
for the keyed hashes the database stores, the names the researcher added or
took from the participants file, and every real value with its pseudonym —
are encrypted with AES-256-GCM under a key derived from the passphrase with
scrypt. The file is written atomically (temporary file, then rename) with
owner-only permissions. A wrong passphrase raises :class:`WrongPassphrase`
and nothing is changed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import secrets
import tempfile
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chimeqda.errors import InvalidInput, WrongPassphrase

FORMAT = "chimeqda-pseudonym-key"
PASSPHRASE_ENV = "CHIMEQDA_KEY_PASSPHRASE"
MIN_PASSPHRASE = 8
_SCRYPT = {"n": 2**15, "r": 8, "p": 1}


def default_key_path(key_id: str) -> Path:
    """``$XDG_CONFIG_HOME/chimeqda/keys/<key_id>.key`` (``~/.config`` when unset)."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "chimeqda" / "keys" / f"{key_id}.key"


def normalise_value(value: str) -> str:
    """The form a real value is compared and hashed in: NFC, case-folded, single spaces."""
    return re.sub(r"\s+", " ", unicodedata.normalize("NFC", value)).strip().casefold()


@dataclass
class KeyRing:
    """The opened key file: the hash secret, known names and the value → pseudonym entries."""

    path: Path
    key_id: str
    secret: bytes
    names: list[dict[str, str]] = field(default_factory=list)  # {"value", "label", "origin"}
    entries: dict[str, dict[str, str]] = field(default_factory=dict)  # value hash → {"value", "label", "pseudonym"}
    _passphrase: str = field(default="", repr=False)

    def value_hash(self, value: str) -> str:
        """HMAC-SHA256 of the normalised value: the only form of it the database holds."""
        return hmac.new(self.secret, normalise_value(value).encode("utf-8"), hashlib.sha256).hexdigest()

    def add_name(self, value: str, label: str = "PERSON", origin: str = "added") -> bool:
        """Remember a name for detection; False if it was known already."""
        value = value.strip()
        if not value:
            raise InvalidInput("the name to add is empty", source="--add-name")
        known = {normalise_value(n["value"]) for n in self.names}
        if normalise_value(value) in known:
            return False
        self.names.append({"value": value, "label": label, "origin": origin})
        return True

    def remember(self, value: str, label: str, pseudonym: str) -> str:
        """Record real value → pseudonym; returns the value's hash."""
        digest = self.value_hash(value)
        self.entries.setdefault(digest, {"value": value.strip(), "label": label, "pseudonym": pseudonym})
        return digest

    def known_values(self) -> list[tuple[str, str]]:
        """Every (value, label) the project knows: added names, participants' names, confirmed values."""
        seen: dict[str, tuple[str, str]] = {}
        for item in [*self.names, *self.entries.values()]:
            seen.setdefault(normalise_value(item["value"]), (item["value"], item["label"]))
        return list(seen.values())

    def save(self) -> None:
        """Encrypt and write atomically with owner-only permissions."""
        write_key(self.path, self._passphrase, self.key_id, self._payload())

    def _payload(self) -> dict[str, Any]:
        return {
            "secret": base64.b64encode(self.secret).decode("ascii"),
            "names": self.names,
            "entries": self.entries,
        }


def _derive(passphrase: str, salt: bytes, params: dict[str, int]) -> bytes:
    return hashlib.scrypt(passphrase.encode("utf-8"), salt=salt, n=params["n"], r=params["r"], p=params["p"],
                          maxmem=256 * 1024 * 1024, dklen=32)


def _header(key_id: str, salt: bytes, params: dict[str, int]) -> dict[str, Any]:
    return {"format": FORMAT, "version": 1, "key_id": key_id,
            "kdf": {"name": "scrypt", **params, "salt": base64.b64encode(salt).decode("ascii")},
            "cipher": "AES-256-GCM"}


def write_key(path: Path, passphrase: str, key_id: str, payload: dict[str, Any]) -> None:
    """Encrypt ``payload`` into ``path``: a temporary file (mode 0600) in the same folder, then a rename."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    salt, nonce = secrets.token_bytes(16), secrets.token_bytes(12)
    header = _header(key_id, salt, _SCRYPT)
    aad = json.dumps(header, sort_keys=True).encode("utf-8")
    ciphertext = AESGCM(_derive(passphrase, salt, _SCRYPT)).encrypt(
        nonce, json.dumps(payload, ensure_ascii=False).encode("utf-8"), aad
    )
    document = {**header, "nonce": base64.b64encode(nonce).decode("ascii"),
                "ciphertext": base64.b64encode(ciphertext).decode("ascii")}
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    descriptor, temporary = tempfile.mkstemp(prefix=".tmp-", suffix=".key", dir=path.parent)
    try:
        os.fchmod(descriptor, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            json.dump(document, handle, indent=1)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def create_key(path: Path, passphrase: str, key_id: str) -> KeyRing:
    """A new key file with a fresh secret; refuses to overwrite an existing one."""
    if len(passphrase) < MIN_PASSPHRASE:
        raise InvalidInput(f"the passphrase must have at least {MIN_PASSPHRASE} characters", source="passphrase")
    if path.exists():
        raise InvalidInput(f"{path} exists already; open it with its passphrase, or choose another --key-file",
                           source=str(path))
    ring = KeyRing(path=path, key_id=key_id, secret=secrets.token_bytes(32), _passphrase=passphrase)
    ring.save()
    return ring


def open_key(path: Path, passphrase: str, key_id: str | None = None) -> KeyRing:
    """Decrypt a key file; a wrong passphrase or a damaged file raises :class:`WrongPassphrase`."""
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    if not path.exists():
        raise InvalidInput(
            f"no key file at {path}; pass the right --key-file (the project's key is kept outside its folder)",
            source=str(path),
        )
    try:
        document = json.loads(path.read_text("utf-8"))
        kdf = document["kdf"]
        params = {"n": int(kdf["n"]), "r": int(kdf["r"]), "p": int(kdf["p"])}
        salt = base64.b64decode(kdf["salt"])
        header = _header(document["key_id"], salt, params)
        nonce = base64.b64decode(document["nonce"])
        ciphertext = base64.b64decode(document["ciphertext"])
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidInput(f"this is not a chimeqda key file ({exc})", source=str(path)) from None
    if document.get("format") != FORMAT:
        raise InvalidInput("this is not a chimeqda key file", source=str(path))
    if key_id is not None and document["key_id"] != key_id:
        raise InvalidInput(f"this key file belongs to another project (key {document['key_id']}, "
                           f"the project's is {key_id})", source=str(path))
    aad = json.dumps(header, sort_keys=True).encode("utf-8")
    try:
        plain = AESGCM(_derive(passphrase, salt, params)).decrypt(nonce, ciphertext, aad)
    except InvalidTag:
        raise WrongPassphrase(
            f"{path}: wrong passphrase (or the key file was changed); nothing was changed. "
            f"Set {PASSPHRASE_ENV} or type the passphrase the key was made with."
        ) from None
    payload = json.loads(plain.decode("utf-8"))
    return KeyRing(path=path, key_id=document["key_id"], secret=base64.b64decode(payload["secret"]),
                   names=list(payload.get("names", [])), entries=dict(payload.get("entries", {})),
                   _passphrase=passphrase)
