"""How a child erased on request is known again without keeping their UPN: a keyed digest of it."""

from __future__ import annotations

from app.kit.crypto import SecretBox


def upn_digest(box: SecretBox, school_id: str, upn: str) -> list[str]:
    """The keyed digests a child's UPN is known by in one school's erased list, one per key (the
    current key's first). Keyed by the school too: erasure is one school's, a child who moves school
    is not erased in the next."""
    return box.digests(f"{school_id}:{upn.strip().upper()}")
