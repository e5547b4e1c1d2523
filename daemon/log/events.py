"""Domain events: the facts the daemon appends to the log.

Each event is a frozen dataclass with a stable ``TYPE`` name and a ``VERSION``.
When a payload's shape changes, the class's ``VERSION`` goes up and an upcaster
for the old version is registered with :func:`upcaster`; stored events are
upcast when read and never rewritten (DESIGN.md invariant 7).
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, ClassVar, TypeVar

from daemon.types import ENDED_STATUSES

Payload = dict[str, Any]
Upcaster = Callable[[Payload], Payload]



class UnknownEventType(ValueError):
    """The log holds an event type this code does not know."""


@dataclass(frozen=True)
class Event:
    """Base of every domain event; ``session_id`` is the stream it belongs to."""

    TYPE: ClassVar[str] = ""
    VERSION: ClassVar[int] = 1

    session_id: str


_REGISTRY: dict[str, type[Event]] = {}
# (type, version) -> function lifting a payload of that version to version + 1
_UPCASTERS: dict[tuple[str, int], Upcaster] = {}
_FIELD_NAMES: dict[type[Event], tuple[str, ...]] = {}

E = TypeVar("E", bound=type[Event])


def register(cls: E) -> E:
    """Class decorator: make an event type known to the log's reader."""
    if not cls.TYPE:
        raise TypeError(f"{cls.__name__} has no TYPE")
    existing = _REGISTRY.get(cls.TYPE)
    if existing is not None and existing is not cls:
        raise TypeError(f"event type {cls.TYPE!r} is already registered by {existing.__name__}")
    _REGISTRY[cls.TYPE] = cls
    _FIELD_NAMES[cls] = tuple(f.name for f in dataclasses.fields(cls) if f.name != "session_id")
    return cls


def upcaster(event_type: str, from_version: int) -> Callable[[Upcaster], Upcaster]:
    """Register a function that lifts ``event_type`` payloads from ``from_version`` by one."""

    def decorate(fn: Upcaster) -> Upcaster:
        _UPCASTERS[(event_type, from_version)] = fn
        return fn

    return decorate


def event_types() -> Mapping[str, type[Event]]:
    return dict(_REGISTRY)


def to_payload(event: Event) -> Payload:
    """The event's fields except ``session_id``, which the log keeps in its own column."""
    # dataclasses.asdict deep-copies recursively; this runs once per appended event.
    return {name: getattr(event, name) for name in _FIELD_NAMES[type(event)]}


def from_payload(event_type: str, version: int, session_id: str, payload: Payload) -> Event:
    """Rebuild an event from its stored form, upcasting older versions first."""
    cls = _REGISTRY.get(event_type)
    if cls is None:
        raise UnknownEventType(f"unknown event type {event_type!r}")
    if version > cls.VERSION:
        raise UnknownEventType(
            f"event type {event_type!r} version {version} is newer than this code ({cls.VERSION})"
        )
    while version < cls.VERSION:
        lift = _UPCASTERS.get((event_type, version))
        if lift is None:
            raise UnknownEventType(f"no upcaster for {event_type!r} version {version}")
        payload = lift(payload)
        version += 1
    return cls(session_id=session_id, **payload)


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def format_ts(moment: datetime) -> str:
    """ISO-8601 UTC with microseconds, the one timestamp format of the log."""
    if moment.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware")
    return moment.astimezone(timezone.utc).isoformat(timespec="microseconds")


def new_id() -> str:
    return uuid.uuid4().hex


@dataclass(frozen=True)
class Envelope:
    """An event ready to append: the fact plus when it happened and its unique id."""

    event: Event
    ts: str = field(default_factory=lambda: format_ts(utc_now()))
    event_id: str = field(default_factory=new_id)


@dataclass(frozen=True)
class Recorded:
    """An event as stored in the log, with its position and hash chain links."""

    seq: int
    event_id: str
    ts: str
    event: Event
    prev_hash: str
    hash: str
    #: The stored payload text when the event was rebuilt from it unchanged (current
    #: version, exactly its fields); "" otherwise. Lets a projection keep a part of it
    #: verbatim instead of encoding it again.
    payload: str = field(default="", compare=False, repr=False)


# --- sessions ---------------------------------------------------------------


@register
@dataclass(frozen=True)
class SessionStarted(Event):
    TYPE: ClassVar[str] = "session_started"

    project_path: str
    duration_minutes: float  # 0 for continuous sessions and single passes
    mode: str = "timed"  # timed | continuous | once
    pid: int | None = None  # the process running it, so others can tell a live one
    host: str | None = None


@register
@dataclass(frozen=True)
class SessionResumed(Event):
    """A restarted daemon took over a continuous session its predecessor left running."""

    TYPE: ClassVar[str] = "session_resumed"

    pid: int
    host: str


@register
@dataclass(frozen=True)
class SessionEnded(Event):
    TYPE: ClassVar[str] = "session_ended"

    status: str  # completed | stopped | error | expired
    reason: str = ""

    def __post_init__(self) -> None:
        if self.status not in ENDED_STATUSES:
            raise ValueError(f"a session cannot end with status {self.status!r}")


@register
@dataclass(frozen=True)
class SessionScored(Event):
    TYPE: ClassVar[str] = "session_scored"

    overall_score: float


# --- measurements -----------------------------------------------------------


@register
@dataclass(frozen=True)
class ActivityRecorded(Event):
    """One measured analyzer call: every column of the spec's ``activities`` table, and
    the CPU time the call used (version 2), which the ``performance_metrics`` projection
    turns into the call's CPU percent."""

    TYPE: ClassVar[str] = "activity_recorded"
    VERSION: ClassVar[int] = 2

    activity_id: str
    capability: str
    activity_type: str
    description: str | None = None
    response_time_ms: float | None = None
    cpu_before: float | None = None
    cpu_after: float | None = None
    memory_before_mb: float | None = None
    memory_after_mb: float | None = None
    success: bool = True
    error_message: str | None = None
    result_data: Payload | None = None
    #: CPU seconds (as ms) of the calling thread and of the worker processes it used, at
    #: most the call's wall time times the cores; None when not measured (version 1).
    cpu_time_ms: float | None = None


@upcaster(ActivityRecorded.TYPE, 1)
def _activity_v1_to_v2(payload: Payload) -> Payload:
    return {**payload, "cpu_time_ms": None}


@register
@dataclass(frozen=True)
class MetricSampled(Event):
    TYPE: ClassVar[str] = "metric_sampled"

    metric_id: str
    capability: str
    metric_type: str  # response_time, cpu_usage, memory_usage, accuracy, ux_quality, ...
    value: float
    unit: str
    context: str | None = None


@register
@dataclass(frozen=True)
class ResourcesSampled(Event):
    """One periodic resource sample, every measure of it in one event.

    The ``performance_metrics`` projection turns it into one row per measure, with the
    capability, metric type, unit and context each measure always has: they are known,
    so the payload holds the five numbers only (older logs hold one ``MetricSampled``
    per measure, and still replay to the same rows).
    """

    TYPE: ClassVar[str] = "resources_sampled"

    cpu: float  # system-wide CPU, percent, since the previous sample
    mem: float  # system-wide memory, percent
    disk: float  # the workspace's filesystem, percent used
    proc_cpu: float  # this process and its children, percent of one core
    rss_mb: float  # this process and its children, resident MB


# --- judgements -------------------------------------------------------------


@register
@dataclass(frozen=True)
class IssueDetected(Event):
    TYPE: ClassVar[str] = "issue_detected"

    issue_id: str
    severity: str
    capability: str
    issue_type: str
    description: str | None = None
    suggested_fix: str | None = None
    reproducible: bool | None = None


@register
@dataclass(frozen=True)
class IssueUpdated(Event):
    """A condition that persists: the same issue with fresher words, not a copy."""

    TYPE: ClassVar[str] = "issue_updated"

    issue_id: str
    severity: str | None = None
    description: str | None = None
    suggested_fix: str | None = None
    reproducible: bool | None = None


@register
@dataclass(frozen=True)
class SuggestionMade(Event):
    TYPE: ClassVar[str] = "suggestion_made"

    category: str  # performance, reliability, resource_optimization, bug_fix
    priority: str  # critical, high, medium, low
    suggestion: str
    rationale: str | None = None
    estimated_impact: str | None = None


@register
@dataclass(frozen=True)
class FindingDetected(Event):
    """A security or pattern finding; ``preview`` is already masked by its analyzer."""

    TYPE: ClassVar[str] = "finding_detected"

    fingerprint: str
    capability: str
    rule: str
    path: str
    line: int
    severity: str
    confidence: str
    message: str = ""
    preview: str = ""


@register
@dataclass(frozen=True)
class FindingResolved(Event):
    TYPE: ClassVar[str] = "finding_resolved"

    fingerprint: str


@register
@dataclass(frozen=True)
class FindingsSummarized(Event):
    """Where a full pass of one capability left the workspace's findings.

    Findings are announced when they appear, change or go (``FindingDetected``,
    ``FindingResolved``), never again while they stay; this one small event per pass is
    what a session saw: how many were open, per severity, and a digest of their
    fingerprints (SHA-256 of the sorted fingerprints, one per line) that tells two passes
    with the same counts apart.
    """

    TYPE: ClassVar[str] = "findings_summarized"

    capability: str
    open_findings: int
    by_severity: dict[str, int]
    digest: str


# --- workspace --------------------------------------------------------------


@register
@dataclass(frozen=True)
class FileChanged(Event):
    """A settled change to one file of a workspace; paths are relative to ``workspace``."""

    TYPE: ClassVar[str] = "file_changed"

    workspace: str
    path: str
    change: str  # created | modified | deleted | moved
    size: int | None = None
    mtime: float | None = None
    content_hash: str | None = None
    dest_path: str | None = None


@register
@dataclass(frozen=True)
class WorkspaceRescanned(Event):
    TYPE: ClassVar[str] = "workspace_rescanned"

    workspace: str
    reason: str  # startup, overflow, watch_limit, scheduled, ...
    files_seen: int
    files_changed: int
    duration_ms: float


# --- learning ---------------------------------------------------------------


@register
@dataclass(frozen=True)
class PatternLearned(Event):
    """The mistake learner saw a fix: a risky ``shape`` rewritten as ``fix`` at path:line.

    Learned patterns are facts in the log, so a restarted daemon knows them again
    (the ``learned_patterns`` projection seeds the analyzer). The excerpts are built
    from the code's structure, never copied from its text: no literal reaches the log.
    """

    TYPE: ClassVar[str] = "pattern_learned"

    shape: str
    fix: str
    path: str
    line: int
    before_excerpt: str = ""
    after_excerpt: str = ""


# --- recovery ---------------------------------------------------------------


@register
@dataclass(frozen=True)
class FileQuarantined(Event):
    """An analyzer failed on these bytes twice: it skips the file until its content changes.

    ``error`` is the exception's type and message (never the file's content).
    """

    TYPE: ClassVar[str] = "file_quarantined"

    workspace: str
    capability: str
    path: str
    content_hash: str
    error: str
    crashes: int


@register
@dataclass(frozen=True)
class FileReleased(Event):
    """A quarantined file is analyzed again: its content changed, or it is gone."""

    TYPE: ClassVar[str] = "file_released"

    workspace: str
    capability: str
    path: str
    reason: str


# --- retention --------------------------------------------------------------

#: The stream of the log's own housekeeping events (not a session: no ``test_sessions`` row).
ARCHIVE_STREAM = "archive"


@register
@dataclass(frozen=True)
class LogArchived(Event):
    """The events ``first_seq``..``last_seq`` moved to the sealed segment file ``segment``.

    Appended in the transaction that deletes them from the log, so the chain goes on from
    them: ``anchor`` is the hash of event ``last_seq``, the ``prev_hash`` of the first event
    the log keeps, and ``first_prev_hash`` the ``prev_hash`` of event ``first_seq`` (the
    genesis hash, or the anchor of the archive before). ``sha256`` is the file's digest,
    ``base_digest`` that of the summary the log keeps of everything archived so far
    (``archive_base``), and ``origin`` the hash of event 1, which names the log a segment
    directory belongs to.
    """

    TYPE: ClassVar[str] = "log_archived"

    segment: str
    sha256: str
    size: int  # the file's bytes
    first_seq: int
    last_seq: int
    events: int
    sessions: int
    first_prev_hash: str
    anchor: str
    base_digest: str
    origin: str
    cutoff: str
