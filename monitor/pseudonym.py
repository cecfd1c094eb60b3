"""Pseudonymisation of patient identifiers: a keyed HMAC-SHA256.

The same identifier and key always give the same pseudonym (so a patient's exams
stay linkable), and without the key the pseudonym cannot be reversed or
recomputed by guessing identifiers. The key comes from the environment variable
named by ``pseudonymisation.key_env``; the CLI reads it and passes it down.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

__all__ = [
    "MIN_DISTINCT_CHARACTERS",
    "MIN_KEY_LENGTH",
    "generate_key",
    "key_problem",
    "pseudonymise",
]

MIN_KEY_LENGTH = 16
"""Shortest accepted key, in characters: a short key can be brute-forced."""


MIN_DISTINCT_CHARACTERS = 8
"""Fewest different characters a key holds: 40 spaces or ``aaaa...`` is no secret."""


def key_problem(value: str) -> str | None:
    """Why ``value`` cannot be the pseudonymisation key (too short once stripped, or
    too few different characters), or None."""
    stripped = value.strip()
    if len(stripped) < MIN_KEY_LENGTH:
        return f"is shorter than {MIN_KEY_LENGTH} characters" + (
            " once its spaces are stripped" if len(value) >= MIN_KEY_LENGTH else ""
        )
    if len(set(stripped)) < MIN_DISTINCT_CHARACTERS:
        return f"has fewer than {MIN_DISTINCT_CHARACTERS} different characters"
    return None


def pseudonymise(identifier: str, key: bytes) -> str:
    """The 64-hex-digit HMAC-SHA256 of ``identifier`` (stripped) under ``key``."""
    return hmac.new(key, identifier.strip().encode("utf-8"), hashlib.sha256).hexdigest()


def generate_key() -> str:
    """A fresh random key (for the demo, or to put in the environment)."""
    return secrets.token_urlsafe(32)
