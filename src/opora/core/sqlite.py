"""Unicode-aware LIKE for the embedded SQLite database.

SQLite's built-in LIKE folds the case of ASCII letters only, so a search for «ПРИНТЕР» would
miss «Принтер» on the trial database while PostgreSQL (ILIKE / UPPER) finds it. Django compiles
``icontains``/``istartswith``/… on SQLite to ``LIKE … ESCAPE '\\'``; replacing the LIKE
function on each new connection makes them fold Unicode case the same way PostgreSQL does.
"""

from __future__ import annotations

import functools
import re
from typing import Any


@functools.lru_cache(maxsize=512)
def _compile(pattern: str, escape: str | None) -> re.Pattern[str]:
    parts: list[str] = []
    chars = iter(pattern)
    for ch in chars:
        if escape is not None and ch == escape:
            parts.append(re.escape(next(chars, "")))
        elif ch == "%":
            parts.append(".*")
        elif ch == "_":
            parts.append(".")
        else:
            parts.append(re.escape(ch))
    return re.compile("".join(parts), re.DOTALL | re.IGNORECASE)


def unicode_like(pattern: Any, value: Any, escape: Any = None) -> bool | None:
    if pattern is None or value is None:
        return None
    return _compile(str(pattern).casefold(), escape).fullmatch(str(value).casefold()) is not None


def install(sender: Any, connection: Any, **kwargs: Any) -> None:
    """``connection_created`` receiver: replace LIKE on SQLite connections."""
    if connection.vendor != "sqlite":
        return
    raw = connection.connection
    raw.create_function("like", 2, unicode_like, deterministic=True)
    raw.create_function("like", 3, unicode_like, deterministic=True)
