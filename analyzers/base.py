"""What an analyzer is: the protocol every capability implements and the result it returns.

An analyzer is a named capability (``workspace_analyzer``, ``security_scanner``, ...)
that the runner calls with a settled batch of changed paths and measures. It only
computes; recording, timing and error handling belong to the runner, so an analyzer
may raise freely and the session still goes on.
"""

from __future__ import annotations

import errno
import math
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeAlias, runtime_checkable

#: A value that survives the log's canonical JSON unchanged.
JSON: TypeAlias = bool | int | float | str | list["JSON"] | dict[str, "JSON"] | None

#: The ``paths`` an analyzer receives on a full pass: none named, so it looks at the
#: whole workspace itself. A change batch is never empty (the runner skips those), so
#: the empty sequence is free to carry this meaning without widening the protocol.
FULL_PASS: tuple[str, ...] = ()


def is_full_pass(paths: Sequence[str]) -> bool:
    return len(paths) == 0


#: Severities of findings and issues, worst first: the one order every report, gate and
#: SARIF level follows.
SEVERITIES: tuple[str, ...] = ("critical", "high", "medium", "low", "info")
SEVERITY_RANK: Mapping[str, int] = {severity: rank for rank, severity in enumerate(SEVERITIES)}


#: How sure a rule is of a finding, surest first (bandit's levels; secret rules use the same).
CONFIDENCES: tuple[str, ...] = ("high", "medium", "low")
CONFIDENCE_RANK: Mapping[str, int] = {level: rank for rank, level in enumerate(CONFIDENCES)}


def severity_rank(severity: str) -> int:
    """0 for critical, up to 4 for info; an unknown severity sorts after all of them."""
    return SEVERITY_RANK.get(severity.lower(), len(SEVERITIES))


@dataclass(frozen=True)
class Finding:
    """A security or pattern finding; ``preview`` must already be masked (invariant 4)."""

    fingerprint: str
    rule: str
    path: str
    line: int
    severity: str
    confidence: str
    message: str = ""
    preview: str = ""


@dataclass(frozen=True)
class LearnedPattern:
    """A fix seen in the workspace: a known-risky shape rewritten into its safer form.

    The runner turns each into a ``PatternLearned`` event, so what was learned
    survives restarts. ``path``/``line`` name where the fix now is; the excerpts are
    made from the code's structure (callee names, keywords), never copied from its
    text, so no literal (and so no secret) can reach the log through them.
    """

    shape: str
    fix: str
    path: str
    line: int
    before_excerpt: str = ""
    after_excerpt: str = ""


#: Kinds of :class:`FileFailure`. ``transient``: the file was locked, busy or changing
#: under the read, so the same call may well succeed a moment later (the runner retries
#: it with backoff). ``crash``: the analyzer (or its worker process) failed on this
#: file's content; twice on the same bytes and the runner quarantines the file.
#: ``timeout``: the file's own deadline passed (counts as a crash: the same bytes
#: would take as long again).
FAILURE_KINDS = ("transient", "crash", "timeout")


@dataclass(frozen=True)
class FileFailure:
    """One file an analyzer could not handle in a call that otherwise went on."""

    path: str
    kind: str  # one of FAILURE_KINDS
    error: str  # the exception's type and message; never the file's content


class TransientFileError(OSError):
    """Raised (or reported) when a file was busy or changed while it was being read."""


#: errno values that say "not now" rather than "never": a retry may succeed.
TRANSIENT_ERRNOS = frozenset(
    getattr(errno, name) for name in ("EAGAIN", "EWOULDBLOCK", "EBUSY", "ETXTBSY", "EINTR",
                                      "ESTALE", "EDEADLK", "ENOLCK", "ETIMEDOUT")
    if hasattr(errno, name))


def is_transient(exc: BaseException) -> bool:
    """Would the same call, a moment later, likely succeed? (A lock, a busy file, a
    file replaced mid-read, SQLite's "database is locked".)"""
    if isinstance(exc, TransientFileError):
        return True
    if isinstance(exc, (BlockingIOError, InterruptedError)):
        return True
    if isinstance(exc, OSError) and exc.errno in TRANSIENT_ERRNOS:
        return True
    if isinstance(exc, sqlite3.OperationalError):
        text = str(exc).lower()
        return "locked" in text or "busy" in text
    return False


@dataclass(frozen=True)
class AnalysisResult:
    """What one call produced.

    ``summary`` ends the console line ("Workspace analysis: 245ms, 7 insights");
    ``data`` becomes the activity's ``result_data`` (it is converted with
    :func:`to_json` on the way, so anything odd in it degrades to text instead of
    failing the append). ``findings`` and ``resolved`` (fingerprints no longer seen)
    become their own events beside the activity, and so do ``learned`` patterns.
    ``failures`` name the files this call could not handle (see :class:`FileFailure`):
    the runner retries the transient ones and quarantines a file that keeps crashing.
    ``remaining`` counts the files a budgeted call left for the next one.
    """

    summary: str
    data: Mapping[str, Any] = field(default_factory=dict)
    findings: tuple[Finding, ...] = ()
    resolved: tuple[str, ...] = ()
    learned: tuple[LearnedPattern, ...] = ()
    failures: tuple[FileFailure, ...] = ()
    #: Files left for the next call (an analyzer working to a time budget): the session
    #: calls it again soon, rather than at the next change or periodic pass.
    remaining: int = 0


@runtime_checkable
class Analyzer(Protocol):
    """A capability the runner can call.

    ``paths`` are relative to ``root`` with ``/`` separators, already filtered by
    :meth:`applies_to`; :data:`FULL_PASS` asks for the whole workspace. Calls to
    one analyzer instance never overlap (the runner skips an analyzer whose earlier
    call is still running), so an instance may keep state between calls without locks.
    """

    name: str
    activity_type: str

    def applies_to(self, path: str) -> bool: ...

    def analyze(self, root: Path, paths: Sequence[str]) -> AnalysisResult: ...


@runtime_checkable
class Excluding(Protocol):
    """An analyzer that can be told to leave files alone (optional).

    The runner calls ``exclude`` with every quarantined path before each call (the
    whole set, replacing the last); a full pass must not open them. An analyzer
    without it still never gets a quarantined path in a change batch.
    """

    def exclude(self, paths: frozenset[str]) -> None: ...


@runtime_checkable
class Interruptible(Protocol):
    """An analyzer whose running call can be asked to finish early (optional).

    The session calls ``interrupt`` from another thread when it ends. The call in
    progress (and any later one) stops at its next file boundary and returns what it
    did, counting the rest in ``remaining``; ``interrupt`` itself returns at once and
    closes nothing, because the call is still using what it holds.
    """

    def interrupt(self) -> None: ...


@runtime_checkable
class Closing(Protocol):
    """An analyzer that holds something to release (connections, worker processes) when
    its session ends (optional). Never called while one of its calls runs."""

    def close(self) -> None: ...


@runtime_checkable
class Seeding(Protocol):
    """An analyzer that starts out knowing what earlier sessions learned (optional): the
    session hands it the patterns the log holds before its first call."""

    def seed(self, patterns: Iterable[LearnedPattern]) -> int: ...


@runtime_checkable
class Preparing(Protocol):
    """An analyzer that can get ready before its call (optional): when a batch has more than
    one call, the runner calls ``prepare`` with the call's root and paths before any of them
    starts, so what the call needs first (worker processes starting) overlaps the calls that
    run before it. Returns at once."""

    def prepare(self, root: Path, paths: Sequence[str]) -> None: ...


@runtime_checkable
class Releasing(Protocol):
    """An analyzer with worker processes it can let go between calls (optional): in a single
    pass (``run --once``) the runner calls ``release`` once the analyzer's call has ended, so
    its idle workers do not add to the memory of the calls still running; a later call
    starts them again."""

    def release(self) -> None: ...


@runtime_checkable
class Probing(Protocol):
    """An analyzer that measures what the others just produced (optional; code search
    probes the fresh index): with ``runs_after_others`` true, the runner calls it once
    the other calls of a batch are done."""

    runs_after_others: bool


@runtime_checkable
class Following(Protocol):
    """A probe that needs only some of the batch's other calls done (optional): the runner
    starts it once the calls of the capabilities ``runs_after`` names have ended (their
    retries aside), beside the batch's other calls, rather than after all of them. Code
    assistance needs the fresh index, not the scanner's or the probe's results: on a cold
    pass it ran alone at the end, one core idle, for seconds."""

    runs_after: frozenset[str]


_LABELS: Mapping[str, str] = {
    "workspace_analyzer": "Workspace analysis",
    "code_assistant": "Code assistance",
    "code_indexer": "Code indexing",
    "code_search": "Code search",
    "security_scanner": "Security scan",
    "pattern_probe": "Pattern probe",
    "error_recovery": "Error recovery",
}


def capability_label(name: str) -> str:
    """The words the spec's console lines start with ("Workspace analysis" for
    ``workspace_analyzer``)."""
    known = _LABELS.get(name)
    if known is not None:
        return known
    words = name.replace("_", " ").replace("-", " ").strip()
    return words[:1].upper() + words[1:] if words else name


def safe_text(text: str) -> str:
    """Text SQLite and terminals accept: lone surrogates (from non-UTF-8 file names) as escapes."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


_MAX_DEPTH = 32


def to_json(value: object, _depth: int = 0) -> JSON:
    """A JSON value for anything: the log refuses NaN, bytes and non-string keys.

    Never raises, so an analyzer returning something unexpected costs it a field,
    not the batch's append.
    """
    if value is None or isinstance(value, (bool, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str):
        return safe_text(value)
    if _depth >= _MAX_DEPTH:
        return "<nested too deeply>"
    if isinstance(value, Mapping):
        return {_key(k): to_json(v, _depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value, key=repr) if isinstance(value, (set, frozenset)) else value
        return [to_json(v, _depth + 1) for v in items]
    if isinstance(value, (bytes, bytearray)):
        return safe_text(bytes(value).decode("utf-8", "backslashreplace"))
    if isinstance(value, Path):
        return safe_text(value.as_posix())
    try:
        return safe_text(str(value))
    except Exception:  # a broken __str__ must not sink the record
        return f"<unprintable {type(value).__name__}>"


def _key(key: object) -> str:
    text = key if isinstance(key, str) else to_json(key)
    return safe_text(text) if isinstance(text, str) else str(text)
