"""What a call came to, and the events that record it (pure).

A call's :class:`Measurement` (taken by :class:`~daemon.run.measure.Meter`) and its
:data:`Outcome` become one ``ActivityRecorded``, with the findings, resolutions and
learned patterns of its result beside it (:func:`call_events`). Each recovery step is
an activity of the ``error_recovery`` capability (:func:`recovery_activity`), so
detection, success rate and time to recover are measured like every other capability;
a quarantined file is also an event and an issue (:func:`quarantine_events`), and so is
its release (:func:`release_events`).
"""

from __future__ import annotations

import traceback
from collections.abc import Sequence
from dataclasses import dataclass

from analyzers.base import AnalysisResult, capability_label, safe_text, to_json
from analyzers.common.secrets.redact import mask_secrets
from daemon.log.events import (
    ActivityRecorded,
    Event,
    FileQuarantined,
    FileReleased,
    FindingDetected,
    FindingResolved,
    IssueDetected,
    IssueUpdated,
    PatternLearned,
    new_id,
)
from daemon.run.recovery import Quarantined
from daemon.types import stable_id

MAX_ERROR_CHARS = 2000
TRACEBACK_FRAMES = 8

RECOVERY_CAPABILITY = "error_recovery"
RECOVERY_ACTIVITY_TYPE = "recovery"
RECOVERY_ACTIONS = ("retry", "isolate", "quarantine", "release")
#: Paths named one by one in a recovery activity's data.
MAX_LISTED = 20


@dataclass(frozen=True)
class Measurement:
    """One call's readings: wall time, system CPU around it, process memory, and the CPU
    time the call itself used (its thread and its worker processes)."""

    response_time_ms: float
    cpu_before: float | None
    cpu_after: float | None
    memory_before_mb: float | None
    memory_after_mb: float | None
    cpu_time_ms: float | None = None


@dataclass(frozen=True)
class Failure:
    """A call that failed without an exception of its own: it timed out, never ran, or
    returned something that is not an :class:`AnalysisResult`."""

    kind: str  # timeout | skipped | invalid_result | ...
    message: str


Outcome = AnalysisResult | BaseException | Failure  # a result, what it raised, or why it failed


def safe_error(text: str) -> str:
    """An error's text fit for the log: printable, and its secrets masked (an exception's
    message may quote the file it failed on)."""
    return mask_secrets(safe_text(text))


def error_message(exc: BaseException) -> str:
    text = str(exc)
    message = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return _clip(safe_error(message), MAX_ERROR_CHARS)


def outcome_error(outcome: BaseException | Failure) -> str:
    """What a failed outcome says went wrong."""
    return error_message(outcome) if isinstance(outcome, BaseException) else safe_error(
        outcome.message)


def error_details(exc: BaseException) -> dict[str, object]:
    """The exception's type and last frames: enough to find the bug, small enough to log."""
    frames = traceback.extract_tb(exc.__traceback__)[-TRACEBACK_FRAMES:]
    return {
        "error_type": type(exc).__name__,
        "traceback": [f"{frame.filename}:{frame.lineno} in {frame.name}" for frame in frames],
    }


def describe(capability: str, measurement: Measurement | None, outcome: Outcome) -> str:
    """The spec's console line after the session prefix: "Workspace analysis: 245ms, 7 insights"."""
    parts = [capability_label(capability) + ":"]
    if measurement is not None:
        parts.append(f"{measurement.response_time_ms:.0f}ms")
    if isinstance(outcome, AnalysisResult):
        detail = safe_text(outcome.summary.strip())
    else:
        detail = "failed: " + _clip(safe_text(outcome_error(outcome)).split("\n", 1)[0], 120)
    text = " ".join(parts)
    if detail:
        text += (", " if measurement is not None else " ") + detail
    return text


def activity_event(*, session_id: str, capability: str, activity_type: str,
                   measurement: Measurement | None, outcome: Outcome,
                   activity_id: str | None = None, full_pass: bool = False) -> ActivityRecorded:
    """The ``activities`` row-to-be for one call (``measurement`` is ``None`` for a call
    that never ran; ``full_pass`` for a call over the whole workspace)."""
    if isinstance(outcome, AnalysisResult):
        success, message = True, None
        data = to_json(outcome.data)
        if outcome.remaining and isinstance(data, dict):
            # One name for every analyzer's "files left for the next call", so a user (or
            # a scenario) can tell from the log whether a first pass is still going.
            data.setdefault("remaining", outcome.remaining)
        if full_pass and isinstance(data, dict):
            # Likewise one name for "this call looked at the whole workspace": its time
            # grows with the workspace, so the analysis does not judge it as a response.
            data.setdefault("full_pass", True)
    elif isinstance(outcome, BaseException):
        success, message = False, error_message(outcome)
        data = to_json(error_details(outcome))
    else:
        success, message = False, _clip(safe_error(outcome.message), MAX_ERROR_CHARS)
        data = to_json({"error_type": outcome.kind})
    m = measurement
    return ActivityRecorded(
        session_id=session_id,
        activity_id=activity_id or new_id(),
        capability=safe_text(capability),
        activity_type=safe_text(activity_type),
        description=describe(capability, measurement, outcome),
        response_time_ms=None if m is None else m.response_time_ms,
        cpu_before=None if m is None else m.cpu_before,
        cpu_after=None if m is None else m.cpu_after,
        memory_before_mb=None if m is None else m.memory_before_mb,
        memory_after_mb=None if m is None else m.memory_after_mb,
        success=success,
        error_message=message,
        result_data=data if isinstance(data, dict) else {"value": data},
        cpu_time_ms=None if m is None else m.cpu_time_ms,
    )


def finding_events(session_id: str, capability: str, result: AnalysisResult) -> list[Event]:
    """A result's findings, the fingerprints it no longer sees and the fixes it learned."""
    events: list[Event] = [
        FindingDetected(
            session_id=session_id, fingerprint=safe_text(f.fingerprint),
            capability=safe_text(capability), rule=safe_text(f.rule), path=safe_text(f.path),
            line=f.line, severity=f.severity, confidence=f.confidence,
            message=safe_text(f.message), preview=safe_text(f.preview))
        for f in result.findings
    ]
    events += [FindingResolved(session_id=session_id, fingerprint=fingerprint)
               for fingerprint in result.resolved]
    events += [
        PatternLearned(
            session_id=session_id, shape=safe_text(p.shape), fix=safe_text(p.fix),
            path=safe_text(p.path), line=p.line, before_excerpt=safe_text(p.before_excerpt),
            after_excerpt=safe_text(p.after_excerpt))
        for p in result.learned
    ]
    return events


def call_events(*, session_id: str, capability: str, activity_type: str,
                measurement: Measurement | None, outcome: Outcome,
                paths: Sequence[str] = (), attempts: int = 1,
                retry_errors: Sequence[str] = (),
                full_pass: bool = False) -> tuple[ActivityRecorded, list[Event]]:
    """The call's activity, and every event it records, activity first: its result's
    findings, and the retries of transient failures it took (``retry_errors``), if any."""
    activity = activity_event(session_id=session_id, capability=capability,
                              activity_type=activity_type, measurement=measurement,
                              outcome=outcome, full_pass=full_pass)
    events: list[Event] = [activity]
    if isinstance(outcome, AnalysisResult):
        events += finding_events(session_id, capability, outcome)
    if retry_errors:
        # The call itself already counts its retries' time; this records the recovery.
        events.append(recovery_activity(
            session_id=session_id, action="retry", analyzer=capability, paths=paths,
            recovered=isinstance(outcome, AnalysisResult),
            time_to_recover_ms=0.0 if measurement is None else measurement.response_time_ms,
            attempts=attempts, errors=retry_errors))
    return activity, events


def recovery_activity(*, session_id: str, action: str, analyzer: str, paths: Sequence[str],
                      recovered: bool, time_to_recover_ms: float, attempts: int = 1,
                      errors: Sequence[str] = (), detail: str = "") -> ActivityRecorded:
    """One recovery step as an ``error_recovery`` activity.

    ``response_time_ms`` is the time from the failure to the outcome of its recovery;
    ``success`` says whether the step recovered (a quarantine succeeds: the analyzer
    goes on without the file).
    """
    listed = [safe_text(p) for p in paths[:MAX_LISTED]]
    what = {"retry": "retried", "isolate": "isolated a crash in",
            "quarantine": "quarantined", "release": "released"}.get(action, action)
    subject = listed[0] if len(paths) == 1 else f"{len(paths)} files"
    outcome = "recovered" if recovered else "not recovered"
    # "Error recovery: 89ms, ...", the time first like every other capability's line.
    description = (f"{capability_label(RECOVERY_CAPABILITY)}: {time_to_recover_ms:.0f}ms, "
                   f"{analyzer} {what} {subject}"
                   f"{f' after {attempts} attempts' if attempts > 1 else ''}: {outcome}")
    if detail:
        description += f" ({safe_text(detail)})"
    data = to_json({
        "action": action,
        "analyzer": analyzer,
        "paths": listed,
        "files": len(paths),
        "attempts": attempts,
        "recovered": recovered,
        "time_to_recover_ms": round(time_to_recover_ms, 3),
        "errors": [safe_error(e) for e in errors[:MAX_LISTED]],
    })
    return ActivityRecorded(
        session_id=session_id, activity_id=new_id(), capability=RECOVERY_CAPABILITY,
        activity_type=RECOVERY_ACTIVITY_TYPE, description=description,
        response_time_ms=round(time_to_recover_ms, 3), cpu_before=None, cpu_after=None,
        memory_before_mb=None, memory_after_mb=None, success=recovered,
        error_message=None if recovered else (safe_error(errors[-1]) if errors else outcome),
        result_data=data if isinstance(data, dict) else {})


def quarantine_issue_id(workspace: str, item: Quarantined) -> str:
    """One issue per file, analyzer and bytes: the same crash again names the same issue."""
    return stable_id(workspace, "quarantine", item.capability, item.path, item.content_hash)


def quarantine_events(session_id: str, workspace: str, item: Quarantined) -> list[Event]:
    """A file put in quarantine: the fact, and the issue that tells the user."""
    path = safe_text(item.path)
    return [
        FileQuarantined(session_id, workspace, item.capability, item.path, item.content_hash,
                        safe_error(item.error), item.crashes),
        IssueDetected(
            session_id, quarantine_issue_id(workspace, item), "medium", item.capability,
            "file_quarantined",
            description=f"{path}: {item.capability} failed on it {item.crashes} times "
                        f"({safe_error(item.error)}); it is skipped until its content changes",
            suggested_fix=f"Reproduce with the file alone and fix {item.capability}'s "
                          "handling of it, or ignore the file in .gitignore",
            reproducible=True),
    ]


def release_events(session_id: str, workspace: str, item: Quarantined,
                   reason: str) -> list[Event]:
    """A file let out of quarantine: the recovery step (first), the fact, and the issue's
    update to ``info``."""
    return [
        recovery_activity(session_id=session_id, action="release", analyzer=item.capability,
                          paths=(item.path,), recovered=True, time_to_recover_ms=0.0,
                          detail=reason),
        FileReleased(session_id, workspace, item.capability, item.path, reason),
        IssueUpdated(session_id, quarantine_issue_id(workspace, item), severity="info",
                     description=f"{safe_text(item.path)}: released from quarantine for "
                                 f"{item.capability} ({reason})"),
    ]


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
