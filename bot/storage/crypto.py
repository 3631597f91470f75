"""Encryption of free text at rest (Fernet) and keyed hashes of identities (HMAC-SHA256), from one secret.

The secret is POLICYBOT_SECRET_KEY, or a random one generated on first run into ``var/secret.key`` (0600).
Two independent subkeys are derived from it with HKDF, so the Fernet key and the hashing key never coincide.
A wrong or lost secret is caught at start-up by ``Database`` checking an encrypted sentinel (``KeyMismatch``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from bot.config import Settings
from bot.errors import ConfigError, KeyMismatch

__all__ = ["KEY_FILE_NAME", "Keys", "load_keys"]

KEY_FILE_NAME = "secret.key"
_MIN_SECRET_CHARS = 16


def _derive(secret: bytes, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"policybot-v1", info=purpose).derive(secret)


@dataclass(frozen=True, slots=True)
class Keys:
    """The Fernet cipher and the HMAC key. ``source`` says where the secret came from (never the secret)."""

    fernet: Fernet
    hash_key: bytes
    source: str
    #: Set when this run created the key file (so a key check failing can remove it again).
    generated: Path | None = None

    @classmethod
    def from_secret(cls, secret: str, *, source: str = "given", generated: Path | None = None) -> Keys:
        raw = secret.strip().encode("utf-8")
        if len(raw) < _MIN_SECRET_CHARS:
            raise ConfigError(
                f"POLICYBOT_SECRET_KEY is too short (at least {_MIN_SECRET_CHARS} characters). "
                'Generate one with: python -c "import secrets; print(secrets.token_urlsafe(32))"'
            )
        fernet_key = base64.urlsafe_b64encode(_derive(raw, b"fernet"))
        return cls(
            fernet=Fernet(fernet_key), hash_key=_derive(raw, b"hmac"), source=source, generated=generated
        )

    def encrypt(self, text: str) -> str:
        return self.fernet.encrypt(text.encode("utf-8")).decode("ascii")

    def decrypt(self, token: str) -> str:
        """Decrypt stored text; a token this key cannot open is a KeyMismatch, never garbage."""
        try:
            return self.fernet.decrypt(token.encode("ascii")).decode("utf-8")
        except InvalidToken as exc:
            raise KeyMismatch(
                "Stored data cannot be decrypted with the configured key. Restore the original "
                "POLICYBOT_SECRET_KEY (or var/secret.key)."
            ) from exc

    def encrypt_opt(self, text: str | None) -> str | None:
        return None if text is None else self.encrypt(text)

    def decrypt_opt(self, token: str | None) -> str | None:
        return None if token is None else self.decrypt(token)

    def hash(self, *parts: str) -> str:
        """A keyed hash of an identity: stable for look-ups, useless without the key."""
        message = "\x1f".join(parts).encode("utf-8")
        return hmac.new(self.hash_key, message, hashlib.sha256).hexdigest()


def load_keys(settings: Settings) -> Keys:
    """The configured secret, else the one in var/secret.key, else a new one written there with mode 0600."""
    if settings.secret_key is not None and settings.secret_key.get_secret_value():
        return Keys.from_secret(settings.secret_key.get_secret_value(), source="POLICYBOT_SECRET_KEY")
    path = settings.var_dir / KEY_FILE_NAME
    if path.exists():
        return Keys.from_secret(_read_key_file(path), source=str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(secret + "\n")
    return Keys.from_secret(secret, source=str(path), generated=path)


def _read_key_file(path: Path) -> str:
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        raise ConfigError(f"{path} is readable by other users (mode {mode:o}); run: chmod 600 {path}")
    return path.read_text(encoding="ascii")
