"""Every read model the projector keeps, in the order it applies them to an event."""

from __future__ import annotations

from daemon.projections.activities import ACTIVITIES
from daemon.projections.archive import ARCHIVE
from daemon.projections.files import FILES
from daemon.projections.finding_summaries import FINDING_SUMMARIES
from daemon.projections.findings import FINDINGS
from daemon.projections.issues import ISSUES
from daemon.projections.learned_patterns import LEARNED_PATTERNS
from daemon.projections.metrics import METRICS
from daemon.projections.model import Projection
from daemon.projections.quarantine import QUARANTINE
from daemon.projections.sessions import SESSIONS
from daemon.projections.suggestions import SUGGESTIONS

PROJECTIONS: tuple[Projection, ...] = (
    SESSIONS, ACTIVITIES, METRICS, ISSUES, SUGGESTIONS, FINDINGS, FINDING_SUMMARIES, FILES,
    LEARNED_PATTERNS, QUARANTINE, ARCHIVE,
)
