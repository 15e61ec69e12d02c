"""What may leave the process: secrets masked wherever they are (a field named like one, or a value shaped
like one: API keys, refresh tokens, JWTs, bearer credentials, passwords in URLs), nested values too; with
`content`, memory content dropped (fields that carry it) and email addresses masked in every string. Log lines
and exported spans both go through it."""

from __future__ import annotations

import re
from collections.abc import Mapping

__all__ = ["clean_field", "clean_text"]

_SECRET_FIELD = re.compile(
    r"(api[_-]?key|authorization|password|passphrase|secret|token|cookie|credential)", re.IGNORECASE
)
# (pattern, replacement) for values shaped like a secret, whatever field carries them.
_SECRET_VALUES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"mbk_[0-9a-f]{12}_[A-Za-z0-9\-]+"), "mbk_***"),
    (re.compile(r"mbr_[A-Za-z0-9_\-]{8,}"), "mbr_***"),
    (re.compile(r"eyJ[A-Za-z0-9_\-]*\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]*"), "<jwt>"),
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=\-]+"), r"\1 ***"),
    (re.compile(r"(\w+://[^:/@\s]*:)[^@\s]+@"), r"\1***@"),
)
# Fields whose values are memory content or what users wrote (dropped with MEMBANK_LOG_REDACT_CONTENT).
_CONTENT_FIELDS = frozenset(
    {"content", "query", "text", "turn", "messages", "memory", "memories", "answer", "context", "prompt"}
)
_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}")
# Fields structlog and the stdlib bridge own: never redacted by name.
_OWN_FIELDS = frozenset({"event", "level", "timestamp", "logger", "request_id", "trace_id", "span_id"})


def clean_text(text: str, *, content: bool) -> str:
    for pattern, replacement in _SECRET_VALUES:
        text = pattern.sub(replacement, text)
    return _EMAIL.sub("<email>", text) if content else text


def _clean(value: object, *, content: bool) -> object:
    if isinstance(value, str):
        return clean_text(value, content=content)
    if isinstance(value, Mapping):
        return {key: clean_field(str(key), item, content=content) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_clean(item, content=content) for item in value]
    return value


def clean_field(key: str, value: object, *, content: bool) -> object:
    if key not in _OWN_FIELDS and _SECRET_FIELD.search(key):
        return "***"
    if content and key.lower() in _CONTENT_FIELDS:
        return "<redacted>"
    return _clean(value, content=content)
