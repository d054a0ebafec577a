"""Symmetric encryption for secrets we must be able to read back (Wonde tokens, fresh passwords).

Fernet gives authenticated encryption; ``MultiFernet`` lets a new key be put first while data
written under the old key (listed after it) stays readable, so keys can be rotated.
"""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from pydantic import SecretStr


class SecretBox:
    def __init__(self, keys: SecretStr) -> None:
        parts = [key.strip() for key in keys.get_secret_value().split(",") if key.strip()]
        if not parts:
            raise ValueError("at least one encryption key is required")
        self._fernet = MultiFernet([Fernet(key) for key in parts])

    def encrypt(self, plaintext: str) -> bytes:
        return self._fernet.encrypt(plaintext.encode())

    def decrypt(self, ciphertext: bytes) -> str:
        try:
            return self._fernet.decrypt(ciphertext).decode()
        except InvalidToken as exc:
            raise ValueError("ciphertext cannot be decrypted with the configured keys") from exc
