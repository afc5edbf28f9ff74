"""Pseudonyms for viewer and author ids: a keyed hash, consistent within one report.

`Pseudonymizer(salt)` maps an id to `anon-` plus 12 letters of HMAC-SHA256(salt, id). The same
id gets the same pseudonym wherever it appears (as a viewer, as an author, as the value of an
id feature such as `author_id`), so a reader can still follow one account through the report,
but without the salt nobody can recompute the mapping from a list of candidate ids. The salt is
never written into the report; without one a fresh random salt is drawn per report.

The letters come from an alphabet without digits or vowels, so a pseudonym never contains an
original id as a substring (the ids of a log carry digits) and never spells a word.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass, field

__all__ = ["SALT_ENV", "Pseudonymizer"]

#: Environment variable holding a salt to reuse across reports (same pseudonyms, and
#: reproducible pseudonymized reports). Never stored in a report.
SALT_ENV = "RANKAUDIT_PSEUDONYM_SALT"
_ALPHABET = "bcdfghjkmnpqrstvwxz"
_LENGTH = 12
_PREFIX = "anon-"


@dataclass(frozen=True)
class Pseudonymizer:
    """Maps ids to pseudonyms when `enabled`; the identity otherwise. `salt_source` says where
    the salt came from ("random", "environment" or "argument"), never the salt itself."""

    enabled: bool = False
    _salt: bytes = field(default=b"", repr=False)
    salt_source: str = "none"

    @classmethod
    def create(cls, *, enabled: bool, salt: bytes | str | None = None) -> Pseudonymizer:
        """A pseudonymizer keyed by `salt`, else by the `RANKAUDIT_PSEUDONYM_SALT` environment
        variable, else by 32 random bytes; `enabled=False` gives the identity."""
        if not enabled:
            return cls()
        if salt is not None:
            key = salt.encode("utf-8") if isinstance(salt, str) else bytes(salt)
            source = "argument"
        elif os.environ.get(SALT_ENV):
            key = os.environ[SALT_ENV].encode("utf-8")
            source = "environment"
        else:
            key = secrets.token_bytes(32)
            source = "random"
        return cls(enabled=True, _salt=key, salt_source=source)

    def __call__(self, value: object) -> str:
        """The pseudonym of an id (its string form when disabled; None stays '')."""
        if value is None:
            return ""
        text = str(value)
        if not self.enabled:
            return text
        digest = hmac.new(self._salt, text.encode("utf-8"), hashlib.sha256).digest()
        number = int.from_bytes(digest, "big")
        letters = []
        for _ in range(_LENGTH):
            number, index = divmod(number, len(_ALPHABET))
            letters.append(_ALPHABET[index])
        return _PREFIX + "".join(letters)

    def describe(self) -> dict[str, object]:
        """What the manifest says about pseudonymization (no salt)."""
        if not self.enabled:
            return {"enabled": False}
        return {
            "enabled": True,
            "scheme": f"HMAC-SHA256 keyed by a salt, {_LENGTH} letters, prefix {_PREFIX!r}",
            "fields": ["user_id", "author_id", "id features (e.g. author_id values)"],
            "salt": {
                "random": "random per report, not stored: pseudonyms differ between reports",
                "environment": f"from {SALT_ENV}, not stored",
                "argument": "given by the caller, not stored",
            }[self.salt_source],
        }
