"""Symmetric encryption for secrets we must be able to read back (Wonde tokens, fresh passwords).

Fernet gives authenticated encryption; ``MultiFernet`` lets a new key be put first while data
written under the old key (listed after it) stays readable, so keys can be rotated.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from pydantic import SecretStr

# What Fernet.generate_key() makes: 32 bytes in url-safe base64, padded (Fernet itself is laxer).
_FERNET_KEY = re.compile(r"[A-Za-z0-9_-]{43}=")


def split_keys(keys: str) -> list[str]:
    """A comma-separated key list (new key first), blanks dropped."""
    return [key.strip() for key in keys.split(",") if key.strip()]


def fernet_key_bytes(key: str) -> bytes:
    """The 32 bytes of a Fernet key; ``ValueError`` (never showing the key) if it is not one."""
    if _FERNET_KEY.fullmatch(key) is None:
        raise ValueError("not a Fernet key (32 url-safe base64-encoded bytes, as Fernet.generate_key() makes)")
    return base64.urlsafe_b64decode(key)


class SecretBox:
    def __init__(self, keys: SecretStr) -> None:
        parts = split_keys(keys.get_secret_value())
        if not parts:
            raise ValueError("at least one encryption key is required")
        self._fernet = MultiFernet([Fernet(key) for key in parts])
        self._keys = [fernet_key_bytes(key) for key in parts]

    def encrypt(self, plaintext: str) -> bytes:
        return self._fernet.encrypt(plaintext.encode())

    def digests(self, text: str) -> list[str]:
        """Keyed digests of ``text`` (HMAC-SHA256, hex), one per key, the current key's first: a value
        kept only to be recognised again, never read back (a digest under an older key still matches
        after a key rotation)."""
        return [hmac.new(key, text.encode(), hashlib.sha256).hexdigest() for key in self._keys]

    def decrypt(self, ciphertext: bytes) -> str:
        try:
            return self._fernet.decrypt(ciphertext).decode()
        except InvalidToken as exc:
            raise ValueError("ciphertext cannot be decrypted with the configured keys") from exc
