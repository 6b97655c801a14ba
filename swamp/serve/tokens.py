"""Bearer tokens for the API's mutating routes.

Tokens come from the environment (SWAMP_SERVE_TOKENS="name:token,...") or
a file named by SWAMP_SERVE_TOKENS_FILE (one name:token a line, # comments).
A token is never logged or echoed; its name is what the journal records.
Comparison is in constant time, against every token, so that the time an
answer takes says nothing about which token came close.
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from swamp.errors import SwampError

ENV = "SWAMP_SERVE_TOKENS"
FILE_ENV = "SWAMP_SERVE_TOKENS_FILE"
MIN_LENGTH = 16


@dataclass(frozen=True)
class Tokens:
    by_name: Mapping[str, bytes]

    @property
    def configured(self) -> bool:
        return bool(self.by_name)

    def name_of(self, header: str | None) -> str | None:
        """The name of the token an `Authorization: Bearer …` header carries."""
        if not header or not header.startswith("Bearer "):
            return None
        given = header[len("Bearer ") :].strip().encode()
        found = None
        for name, token in self.by_name.items():
            if hmac.compare_digest(given, token) and found is None:
                found = name
        return found

    def __repr__(self) -> str:  # never print the secrets
        return f"Tokens(names={sorted(self.by_name)})"


def _parse(text: str, where: str) -> dict[str, bytes]:
    tokens: dict[str, bytes] = {}
    entries = [e.strip() for line in text.splitlines() for e in line.split(",")]
    for n, entry in enumerate(e for e in entries if e and not e.startswith("#")):
        name, sep, token = entry.partition(":")
        name, token = name.strip(), token.strip()
        if not sep or not name or not token:
            raise SwampError(f"{where}: entry {n + 1}: expected NAME:TOKEN")
        if len(token) < MIN_LENGTH:
            raise SwampError(
                f"{where}: the token of {name!r} is shorter than {MIN_LENGTH} characters"
            )
        if name in tokens:
            raise SwampError(f"{where}: {name!r} is given twice")
        tokens[name] = token.encode()
    return tokens


def load(environ: Mapping[str, str] | None = None) -> Tokens:
    env = os.environ if environ is None else environ
    tokens: dict[str, bytes] = {}
    if env.get(ENV):
        tokens.update(_parse(env[ENV], ENV))
    if env.get(FILE_ENV):
        path = Path(env[FILE_ENV])
        try:
            text = path.read_text("utf-8")
        except OSError as e:
            raise SwampError(f"{FILE_ENV}: cannot read {path}: {e.strerror}") from None
        for name, token in _parse(text, str(path)).items():
            if name in tokens:
                raise SwampError(f"{path}: {name!r} is also given in {ENV}")
            tokens[name] = token
    return Tokens(tokens)
