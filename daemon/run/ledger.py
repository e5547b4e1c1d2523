"""What the log already says about the open findings of a workspace, so a call records only
what changed.

An analyzer reports what it sees (every finding of the files it looked at, on a full
pass every finding of the workspace); the log is the product's memory for years and
must not repeat that on every pass. The ledger holds, per open fingerprint, the fields
the log last announced: a finding is announced when it appears or when one of its
reported fields changes (it moved to another line, its severity changed), resolved
when an analyzer no longer sees it, and otherwise left alone. It starts from the
``findings`` projection when a session starts. Pure: no IO, no clock.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from analyzers.base import Finding, safe_text
from daemon.log.events import FindingDetected, FindingResolved, FindingsSummarized
from daemon.types import SEVERITIES


@dataclass(frozen=True)
class Announced:
    """An open finding as the log last announced it (a ``FindingDetected``'s fields)."""

    capability: str
    rule: str
    path: str
    line: int
    severity: str
    confidence: str
    message: str
    preview: str

    @classmethod
    def of(cls, capability: str, finding: Finding) -> Announced:
        return cls(safe_text(capability), safe_text(finding.rule), safe_text(finding.path),
                   finding.line, finding.severity, finding.confidence,
                   safe_text(finding.message), safe_text(finding.preview))


class FindingLedger:
    """The open findings the log holds for one workspace, by fingerprint."""

    def __init__(self, open_findings: Mapping[str, Announced] | None = None, *,
                 complete: bool = False) -> None:
        """``complete``: ``open_findings`` is everything the log holds open (read from the
        projection), so a resolution of anything else is one the log already has. A ledger
        that does not know the log (a runner used on its own) passes resolutions on."""
        self._open: dict[str, Announced] = dict(open_findings or {})
        self._complete = complete

    @classmethod
    def from_rows(cls, rows: Iterable[Mapping[str, Any]]) -> FindingLedger:
        """From the open rows of the ``findings`` projection (one workspace's)."""
        return cls({str(row["fingerprint"]): Announced(
            str(row["capability"]), str(row["rule"]), str(row["path"]), int(row["line"]),
            str(row["severity"]), str(row["confidence"]), str(row["message"] or ""),
            str(row["preview"] or "")) for row in rows}, complete=True)

    def __len__(self) -> int:
        return len(self._open)

    def get(self, fingerprint: str) -> Announced | None:
        return self._open.get(fingerprint)

    def changes(self, session_id: str, capability: str, findings: Sequence[Finding],
                resolved: Iterable[str]) -> list[FindingDetected | FindingResolved]:
        """The events a call's observations come to, and the ledger moved past them: the
        findings that are new or changed, then those it no longer sees that were open."""
        events: list[FindingDetected | FindingResolved] = []
        for finding in findings:
            fingerprint = safe_text(finding.fingerprint)
            fields = Announced.of(capability, finding)
            if self._open.get(fingerprint) == fields:
                continue  # the log says exactly this already
            self._open[fingerprint] = fields
            events.append(FindingDetected(
                session_id=session_id, fingerprint=fingerprint, capability=fields.capability,
                rule=fields.rule, path=fields.path, line=fields.line, severity=fields.severity,
                confidence=fields.confidence, message=fields.message, preview=fields.preview))
        seen = {safe_text(f.fingerprint) for f in findings}
        for fingerprint in dict.fromkeys(safe_text(f) for f in resolved):
            if fingerprint in seen or (self._complete and fingerprint not in self._open):
                continue  # seen in the same call, or the log has it resolved already
            self._open.pop(fingerprint, None)
            events.append(FindingResolved(session_id=session_id, fingerprint=fingerprint))
        return events

    def reports(self, capability: str) -> bool:
        """Whether the ledger holds open findings of ``capability``."""
        return any(a.capability == capability for a in self._open.values())

    def summary(self, session_id: str, capability: str) -> FindingsSummarized:
        """Where ``capability``'s findings stand now, as one event."""
        mine = sorted(fp for fp, a in self._open.items() if a.capability == capability)
        counts = Counter(self._open[fp].severity for fp in mine)
        digest = hashlib.sha256("".join(f"{fp}\n" for fp in mine).encode(
            "utf-8", "surrogateescape")).hexdigest()
        return FindingsSummarized(
            session_id=session_id, capability=capability, open_findings=len(mine),
            by_severity={s: counts[s] for s in SEVERITIES if counts[s]}, digest=digest)
