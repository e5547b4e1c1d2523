"""Finding secrets in any text: token formats, private keys, passwords in URLs and
assignments, and high-entropy strings given to a name.

:func:`find_secrets` is pure and returns :class:`SecretHit` values that still
hold the secret; they never leave the worker process that scans the file (see
:mod:`analyzers.security.file_scan`, which turns them into masked findings).

Rules run from the most specific to the most generic, and a value claimed by
one rule is not reported again by a later one on the same line, so a GitHub
token assigned to ``token =`` is one GitHub token finding, not three.

``pragma: allowlist secret`` on a line silences the secrets on it, and
``pragma: allowlist nextline secret`` on the line above does the same (both as
detect-secrets spells them).
"""

from __future__ import annotations

import bisect
import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass

from analyzers.common.secrets.rules import (
    BASIC_AUTH_RULE,
    ENTROPY_B64_RULE,
    ENTROPY_HEX_RULE,
    KEYWORD_RULE,
    PRIVATE_KEY_RULE,
    TOKEN_RULES,
    Confidence,
    Severity,
    is_placeholder,
    is_sequence,
    looks_like_password,
    shannon_entropy,
)

B64_ENTROPY = 4.5  # detect-secrets' default limits
HEX_ENTROPY = 3.0
B64_MIN_LENGTH = 20
HEX_MIN_LENGTH = 32
PRIVATE_KEY_MIN_BODY = 64  # base64 characters after the header: a real key, not a mention
PRIVATE_KEY_WINDOW = 16_384


@dataclass(frozen=True)
class SecretHit:
    """One secret in one text. ``value`` is the secret: keep it inside the worker."""

    rule: str
    line: int  # 1-based
    value: str  # normalized: what the fingerprint is made of
    severity: Severity
    confidence: Confidence
    #: Where the value is in the text: ``[start, end)`` character offsets, each within one
    #: line (a private key is one span per line of its body), so masking them keeps lines.
    spans: tuple[tuple[int, int], ...]


class _Lines:
    """Offset -> line number, built on first use (most files have no hit at all)."""

    def __init__(self, text: str) -> None:
        self._text = text
        self._starts: list[int] | None = None

    def line(self, offset: int) -> int:
        if self._starts is None:
            self._starts = [0] + [m.end() for m in re.finditer("\n", self._text)]
        return bisect.bisect_right(self._starts, offset)

    def text_of(self, line: int) -> str:
        self.line(0)
        assert self._starts is not None
        if not 1 <= line <= len(self._starts):
            return ""
        start = self._starts[line - 1]
        end = self._starts[line] - 1 if line < len(self._starts) else len(self._text)
        return self._text[start:end]


_ALLOW = re.compile(r"pragma:\s*allowlist[ \-]secret", re.IGNORECASE)
_ALLOW_NEXT = re.compile(r"pragma:\s*allowlist[ \-]nextline[ \-]secret", re.IGNORECASE)


def decode_text(data: bytes) -> str:
    """UTF-8, else Latin-1: every byte is one character, so secrets (ASCII) and line
    numbers survive any encoding."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def find_secrets(text: str) -> list[SecretHit]:
    lines = _Lines(text)
    claimed: dict[int, list[tuple[int, int]]] = {}  # line -> spans of values already reported
    hits: list[SecretHit] = []
    allowed: dict[int, bool] = {}

    def allow(line: int) -> bool:
        known = allowed.get(line)
        if known is None:
            own = _ALLOW.search(lines.text_of(line)) is not None
            above = line > 1 and _ALLOW_NEXT.search(lines.text_of(line - 1)) is not None
            known = allowed[line] = own or above
        return known

    def add(rule: str, start: int, end: int, value: str, severity: Severity,
            confidence: Confidence, spans: tuple[tuple[int, int], ...] = ()) -> None:
        line = lines.line(start)
        taken = claimed.setdefault(line, [])
        if any(start < e and s < end for s, e in taken):
            return
        taken.append((start, end))
        if not allow(line):
            hits.append(SecretHit(rule, line, value, severity, confidence,
                                  spans or ((start, end),)))

    for start, end, value, body in _private_keys(text):
        add(PRIVATE_KEY_RULE, start, end, value, "critical", "high", body)
    for rule in TOKEN_RULES:
        if not any(anchor in text for anchor in rule.anchors):
            continue
        for match in rule.pattern.finditer(text):
            value = match.group("secret")
            if rule.check is None or rule.check(value):
                add(rule.id, match.start("secret"), match.end("secret"), value, rule.severity,
                    rule.confidence)
    if "://" in text:
        for match in _BASIC_AUTH.finditer(text):
            password = match.group("password")
            if _url_password(password, match.group("user")):
                add(BASIC_AUTH_RULE, match.start("password"), match.end("password"), password,
                    "high", "high")
    for start, end, value, confidence in _keyword_values(text):
        add(KEYWORD_RULE, start, end, value, "high", confidence)
    for rule_id, start, end, value, confidence in _entropy_strings(text):
        add(rule_id, start, end, value, "high", confidence)
    hits.sort(key=lambda hit: hit.line)
    return hits


# --- private keys ---------------------------------------------------------------

_KEY_HEADER = re.compile(r"-----BEGIN[ A-Z0-9]{0,20} PRIVATE KEY(?: BLOCK)?-----")
_KEY_FOOTER = re.compile(r"-----END[ A-Z0-9]{0,20} PRIVATE KEY(?: BLOCK)?-----")
_KEY_NOISE = re.compile(r"\\[nr]|[\s\"'+,]|^[A-Za-z-]+:.*$", re.MULTILINE)
_B64_BODY = re.compile(r"[A-Za-z0-9+/=]+")


def _private_keys(text: str) -> Iterator[tuple[int, int, str, tuple[tuple[int, int], ...]]]:
    """(start, end, body, spans of the body line by line) of each private key: the armor
    lines say only that a key is there, so they stay searchable."""
    if "PRIVATE KEY" not in text:
        return
    for header in _KEY_HEADER.finditer(text):
        window = text[header.end():header.end() + PRIVATE_KEY_WINDOW]
        footer = _KEY_FOOTER.search(window)
        region = window[:footer.start()] if footer else window[:4096]
        # PEM headers (Proc-Type: ...), quotes, concatenation and \n escapes are not the key.
        body = "".join(_B64_BODY.findall(_KEY_NOISE.sub("", region)))
        if footer is None:
            body = body[:4096]
        if len(body) >= PRIVATE_KEY_MIN_BODY:
            end = header.end() + (footer.end() if footer else len(region))
            yield header.start(), end, body, _line_spans(text, header.end(), len(region))


def _line_spans(text: str, start: int, length: int) -> tuple[tuple[int, int], ...]:
    """The non-blank part of each line of ``text[start:start + length]``."""
    spans: list[tuple[int, int]] = []
    for line in re.finditer(r"[^\r\n]+", text[start:start + length]):
        piece = line.group()
        left = len(piece) - len(piece.lstrip())
        right = len(piece.rstrip())
        if right > left:
            spans.append((start + line.start() + left, start + line.start() + right))
    return tuple(spans)


# --- passwords in URLs ----------------------------------------------------------

_BASIC_AUTH = re.compile(
    r"(?<![\w+.-])[A-Za-z][A-Za-z0-9+.\-]{1,20}://(?P<user>[^\s:/@'\"<>{}]{1,64}):"
    r"(?P<password>[^\s/@'\"<>]{3,128})@[A-Za-z0-9\[][A-Za-z0-9.\-:\]]*")


def _url_password(password: str, user: str) -> bool:
    if is_placeholder(password) or password.startswith(("$", "%", "{", "*")):
        return False
    lowered = password.lower()
    if lowered in {"password", "passwd", "pass", "pwd", "secret", "pw", "user", "token"}:
        return False
    return password != user


# --- passwords and secrets given to a key ---------------------------------------

_SECRET_WORD = re.compile(
    r"pass(?:word|wd|phrase)?|pwd|secret|token|api[_\-]?key|access[_\-]?key|auth[_\-]?key|"
    r"private[_\-]?key|signing[_\-]?key|encryption[_\-]?key|master[_\-]?key|credentials?")
_KEY_CHARS = re.compile(r"[A-Za-z0-9_.\-]*")
_ASSIGNMENT = re.compile(
    r"[\"'\]]?[ \t]*(?::[ \t]*[A-Za-z_][\w\[\], .|]*?[ \t]*(?==))?"
    r"(?P<op>:=|==|!=|=>|=|:|[ \t]+(?:is|=)[ \t]+)[ \t]*"
    r"(?:\"(?P<dq>(?:[^\"\\\n]|\\.){1,256})\"|'(?P<sq>(?:[^'\\\n]|\\.){1,256})'|"
    r"`(?P<bq>[^`\n]{1,256})`|(?P<bare>[^\s\"'`,;)\]}]{1,256}))")
_SEGMENTS = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")
_SECRET_SEGMENTS = frozenset({
    "password", "passwd", "passphrase", "pwd", "pass", "secret", "secrets", "token",
    "apikey", "credential", "credentials", "privatekey", "passwords",
})
_SECRET_PAIRS = frozenset({
    ("api", "key"), ("access", "key"), ("auth", "key"), ("private", "key"),
    ("secret", "key"), ("signing", "key"), ("encryption", "key"), ("master", "key"),
    ("client", "secret"), ("auth", "token"), ("access", "token"), ("refresh", "token"),
})
# A key ending in one of these names something about the secret, not the secret.
_NOT_SECRET_SUFFIXES = frozenset({
    "url", "uri", "path", "file", "filename", "dir", "name", "type", "field", "fields",
    "header", "prefix", "suffix", "len", "length", "size", "id", "ids", "endpoint", "env",
    "var", "regex", "re", "pattern", "format", "fmt", "template", "label", "count", "expiry",
    "expires", "expiration", "ttl", "timeout", "class", "kind", "mode", "policy", "prompt",
    "hint", "message", "msg", "error", "errors", "required", "enabled", "hash", "hashes",
    "hasher", "salt", "rounds", "iterations", "algorithm", "method", "methods", "min", "max",
    "chars", "charset", "encoding", "reset", "changed", "validator", "validators", "manager",
    "provider", "handler", "store", "storage", "cache", "column", "col", "index", "location",
    "types", "tokens", "spec", "doc", "help", "title", "description", "widget", "input",
    "scope", "scopes", "source", "arg", "args", "param", "params", "option", "opts",
})


def _key_is_secret(key: str) -> bool:
    segments = [s.lower() for s in _SEGMENTS.findall(key)]
    if not segments or segments[-1] in _NOT_SECRET_SUFFIXES:
        return False
    if any(s in _SECRET_SEGMENTS for s in segments):
        return True
    return any(pair in _SECRET_PAIRS for pair in itertools.pairwise(segments))


def _keyword_values(text: str) -> Iterator[tuple[int, int, str, Confidence]]:
    lowered = text.lower()
    position = 0
    for word in _SECRET_WORD.finditer(lowered):
        if word.start() < position:
            continue
        # The whole key around the word: `db_password`, `AWS_SECRET_ACCESS_KEY`, `x.token`.
        start = word.start()
        while start > 0 and (text[start - 1].isalnum() or text[start - 1] in "_.-"):
            start -= 1
        end = _KEY_CHARS.match(text, word.end()).end()  # type: ignore[union-attr]
        position = end
        key = text[start:end]
        if not _key_is_secret(key):
            continue
        match = _ASSIGNMENT.match(text, end)
        if match is None:
            continue
        if match.group("op").strip() in ("==", "!=", "is") and match.group("bare") is not None:
            continue  # a comparison with a name is code, not a value
        for group in ("dq", "sq", "bq", "bare"):
            value = match.group(group)
            if value is not None:
                break
        quoted = group != "bare"
        value = value.replace("\\\\", "\\") if quoted else value.rstrip(".:")
        # The span is the value as written: a quoted one with its escapes.
        end = match.end(group) if quoted else match.start(group) + len(value)
        if not looks_like_password(value, quoted=quoted):
            continue
        position = match.end()
        strong = len(value) >= 12 or shannon_entropy(value) >= 3.0
        yield match.start(group), end, value, (
            "high" if strong else "medium")


# --- random-looking strings given to a name -------------------------------------

_QUOTED_TOKEN = re.compile(r"([\"'])([A-Za-z0-9+/_\-]{20,}={0,2})\1")
_ENV_LINE = re.compile(r"^[ \t]*(?:export[ \t]+)?([A-Za-z_][A-Za-z0-9_.]*)[ \t]*=[ \t]*"
                       r"([A-Za-z0-9+/_\-]{20,}={0,2})[ \t]*$", re.MULTILINE)
_KEY_BEFORE = re.compile(r"([A-Za-z_][\w.\-]*)[\"'\]]?[ \t]*(?::[^=\n]{0,40})?(?:=>|:=|=|:)[ \t]*$")
_HEX = re.compile(r"^[0-9a-fA-F]+$")
_NOT_SECRET_KEYS = re.compile(
    r"(?i)sha|md5|hash|digest|checksum|crc|integrity|fingerprint|uuid|guid|etag|color|colour|"
    r"version|revision|commit|font|glyph|alphabet|charset|chars|table|pattern|regex|fmt|format|"
    r"magic|sample|example|test|expected|vector")


def _entropy_strings(text: str) -> Iterator[tuple[str, int, int, str, Confidence]]:
    for match in _QUOTED_TOKEN.finditer(text):
        value = match.group(2)
        line_start = text.rfind("\n", 0, match.start()) + 1
        before = _KEY_BEFORE.search(text, max(line_start, match.start() - 120), match.start())
        if before is None:
            continue  # a string that is not given to a name: an argument, a list item
        found = _judge(value, before.group(1))
        if found is not None:
            yield found[0], match.start(2), match.end(2), value, found[1]
    if "=" in text:
        for match in _ENV_LINE.finditer(text):
            found = _judge(match.group(2), match.group(1))
            if found is not None:
                yield found[0], match.start(2), match.end(2), match.group(2), found[1]


def _judge(value: str, key: str) -> tuple[str, Confidence] | None:
    if _NOT_SECRET_KEYS.search(key) or is_sequence(value) or is_placeholder(value):
        return None
    named = _key_is_secret(key)
    if _HEX.match(value):
        if len(value) < HEX_MIN_LENGTH or shannon_entropy(value) < HEX_ENTROPY:
            return None
        # A bare hex string is as often a digest as a key; only a secret's name says which.
        return (ENTROPY_HEX_RULE, "high") if named else None
    if len(value) < B64_MIN_LENGTH or shannon_entropy(value) < B64_ENTROPY:
        return None
    if not (any(c.isdigit() for c in value) and any(c.isupper() for c in value)
            and any(c.islower() for c in value)):
        return None  # identifiers and words: random base64 of this length mixes all three
    if "_" in value and "-" not in value and re.search(r"[a-z]{4,}_[a-z]{4,}", value):
        return None  # snake_case_names_with_2_digits
    return ENTROPY_B64_RULE, "high" if named else "medium"
