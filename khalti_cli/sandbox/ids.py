"""Identifiers in the shape Khalti uses: 22 characters of the shortuuid alphabet."""

from __future__ import annotations

import secrets

# shortuuid's alphabet: no 0/1/I/O/l, so ids survive being read aloud or retyped.
ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
ID_LENGTH = 22


def new_id() -> str:
    """A fresh random id (used for both pidx and transaction_id)."""
    return "".join(secrets.choice(ALPHABET) for _ in range(ID_LENGTH))


def looks_like_id(value: str) -> bool:
    return len(value) == ID_LENGTH and all(ch in ALPHABET for ch in value)
