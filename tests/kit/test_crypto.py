"""SecretBox: what it encrypts it reads back; a changed byte or a wrong key is refused; keys rotate."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr

from app.kit.crypto import SecretBox

OLD, NEW = Fernet.generate_key().decode(), Fernet.generate_key().decode()


def test_a_round_trip_gives_the_text_back_and_never_shows_it() -> None:
    box = SecretBox(SecretStr(NEW))
    for text in ("tiger482", "0123456789abcdef0123456789abcdef01234567", "Zoë Łukasz 陈", ""):
        sealed = box.encrypt(text)
        assert text.encode() not in sealed or text == ""
        assert box.decrypt(sealed) == text
    # A fresh nonce each time: the same text never gives the same ciphertext.
    assert box.encrypt("tiger482") != box.encrypt("tiger482")


@pytest.mark.parametrize("position", [0, 10, 40, -5, -1])
def test_a_changed_byte_is_refused(position: int) -> None:
    box = SecretBox(SecretStr(NEW))
    sealed = bytearray(box.encrypt("tiger482"))
    sealed[position] = ord("A") if sealed[position] != ord("A") else ord("B")
    with pytest.raises(ValueError, match="cannot be decrypted"):
        box.decrypt(bytes(sealed))


def test_a_wrong_key_or_garbage_is_refused() -> None:
    sealed = SecretBox(SecretStr(OLD)).encrypt("tiger482")
    with pytest.raises(ValueError, match="cannot be decrypted"):
        SecretBox(SecretStr(NEW)).decrypt(sealed)
    with pytest.raises(ValueError, match="cannot be decrypted"):
        SecretBox(SecretStr(NEW)).decrypt(b"not a token")


def test_keys_rotate_new_first_and_the_old_still_reads() -> None:
    old_box, rotated = SecretBox(SecretStr(OLD)), SecretBox(SecretStr(f" {NEW} , {OLD} "))
    written_before = old_box.encrypt("written under the old key")
    assert rotated.decrypt(written_before) == "written under the old key"
    written_after = rotated.encrypt("written under the new key")
    assert SecretBox(SecretStr(NEW)).decrypt(written_after) == "written under the new key"
    with pytest.raises(ValueError, match="cannot be decrypted"):
        old_box.decrypt(written_after)


@pytest.mark.parametrize("keys", ["", " , ", ","])
def test_no_key_is_refused(keys: str) -> None:
    with pytest.raises(ValueError, match="at least one encryption key"):
        SecretBox(SecretStr(keys))


def test_digests_are_keyed_and_survive_a_key_rotation() -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    before = SecretBox(SecretStr(old)).digests("S1:A123")
    after = SecretBox(SecretStr(f"{new},{old}")).digests("S1:A123")
    assert len(before) == 1 and len(after) == 2
    assert after[1] == before[0] and after[0] != before[0]  # the old key's digest still matches
    assert SecretBox(SecretStr(old)).digests("S1:A124") != before
    assert "A123" not in before[0]
