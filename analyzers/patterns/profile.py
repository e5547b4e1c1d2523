"""What the Mistake Learner keeps of one file between two changes: a :class:`Profile`.

Small and never the text: the shapes the file holds per function, how many fix sites
each (function, shape) pair has, and the removals still waiting for their fix
(:class:`Pending`). The next change of the file is compared with it
(:mod:`analyzers.patterns.lessons`); :mod:`analyzers.patterns.profile_data` stores it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from analyzers.patterns.matcher import Detection, Occurrence

DEFAULT_MAX_OCCURRENCES = 256


@dataclass(frozen=True)
class Pending:
    """A shape removed from a function without its fix, waiting a few changes for one."""

    shape: str
    context: str
    line: int  # where it was
    excerpt: str
    remaining: int  # changes of the file left before it is dropped


@dataclass(frozen=True)
class Profile:
    """What the learner keeps of a file between changes: small, never the text.

    ``fix_counts`` holds only the (context, shape) pairs that matter for the next
    comparison: those with an occurrence or a pending removal.
    """

    parsed: bool
    occurrences: tuple[Occurrence, ...] = ()
    fix_counts: Mapping[tuple[str, str], int] = field(default_factory=dict)
    pending: tuple[Pending, ...] = ()


EMPTY_PARSED = Profile(parsed=True)
EMPTY_UNPARSED = Profile(parsed=False)


def make_profile(detection: Detection, pending: Sequence[Pending] = (),
                 max_occurrences: int = DEFAULT_MAX_OCCURRENCES) -> Profile:
    occurrences = tuple(sorted(detection.occurrences,
                               key=lambda o: (o.line, o.shape)))[:max_occurrences]
    if not occurrences and not pending:
        return EMPTY_PARSED if detection.parsed else EMPTY_UNPARSED
    wanted = {(o.context, o.shape) for o in occurrences}
    wanted |= {(p.context, p.shape) for p in pending}
    counts = Counter((f.context, f.shape) for f in detection.fixes
                     if (f.context, f.shape) in wanted)
    return Profile(detection.parsed, occurrences, dict(counts), tuple(pending))
