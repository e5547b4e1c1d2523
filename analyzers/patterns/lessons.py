"""What one change of a file taught: the fixes it made, as :class:`~analyzers.base.LearnedPattern`.

:func:`learn` compares what a file held before a change (its
:class:`~analyzers.patterns.profile.Profile`, never the text) with what it holds after
(a :class:`~analyzers.patterns.matcher.Detection`): a shape that left a function while a
fix site for it arrived in the same function is a fix. A removal without its fix is
remembered for a few more changes (:class:`~analyzers.patterns.profile.Pending`),
because editors save half-done edits.

Matching is by function rather than by line, so a fix survives lines moving around it.
Pure: the learner (:mod:`analyzers.patterns.learner`) keeps the state.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from analyzers.base import LearnedPattern
from analyzers.patterns.matcher import MODULE, Detection, FixSite
from analyzers.patterns.profile import Pending, Profile
from analyzers.patterns.shapes import SHAPES

PENDING_CHANGES = 3  # later changes of a file in which a removal may still meet its fix


@dataclass(frozen=True)
class _Removal:
    shape: str
    context: str
    count: int
    lines: tuple[int, ...]
    excerpt: str
    pending: bool  # carried over from an earlier change


def learn(path: str, before: Profile, after: Detection
          ) -> tuple[tuple[LearnedPattern, ...], tuple[Pending, ...]]:
    """The fixes one change made, and the removals still waiting for theirs.

    Only a change between two parsed versions teaches anything: the text fallback
    has no functions to compare.
    """
    if not (before.parsed and after.parsed):
        return (), _age(before.pending, ())
    before_counts = Counter((o.context, o.shape) for o in before.occurrences)
    after_counts = Counter((o.context, o.shape) for o in after.occurrences)
    sites: dict[tuple[str, str], list[FixSite]] = {}
    for site in after.fixes:
        sites.setdefault((site.context, site.shape), []).append(site)
    learned: list[LearnedPattern] = []
    waiting: list[Pending] = []
    settled: set[tuple[str, str]] = set()
    for removal in _removals(before, before_counts, after_counts):
        key = (removal.context, removal.shape)
        shape = SHAPES[removal.shape]
        found = sites.get(key, [])
        gained = len(found) - before.fix_counts.get(key, 0)
        if gained > 0:
            settled.add(key)
            nearest = sorted(found, key=lambda s: (min(abs(s.line - b) for b in removal.lines),
                                                   s.line))
            learned += [LearnedPattern(removal.shape, shape.fix, path, site.line,
                                       removal.excerpt, site.excerpt)
                        for site in sorted(nearest[:min(removal.count, gained)],
                                           key=lambda s: s.line)]
        elif shape.removal_is_fix and removal.context != MODULE \
                and removal.context in after.contexts:
            settled.add(key)
            learned.append(LearnedPattern(removal.shape, shape.fix, path,
                                          after.contexts[removal.context], removal.excerpt,
                                          "removed"))
        elif not removal.pending:
            waiting.append(Pending(removal.shape, removal.context, removal.lines[0],
                                   removal.excerpt, PENDING_CHANGES))
    carried = [p for p in before.pending if (p.context, p.shape) not in settled
               and after_counts[(p.context, p.shape)] <= before_counts[(p.context, p.shape)]]
    return tuple(learned), _age(carried, waiting)


def _removals(before: Profile, before_counts: Counter[tuple[str, str]],
              after_counts: Counter[tuple[str, str]]) -> Iterator[_Removal]:
    seen: set[tuple[str, str]] = set()
    for (context, shape), count in sorted(before_counts.items()):
        if after_counts[(context, shape)] < count:
            seen.add((context, shape))
            lines = tuple(o.line for o in before.occurrences
                          if o.context == context and o.shape == shape)
            excerpt = next(o.excerpt for o in before.occurrences
                           if o.context == context and o.shape == shape)
            yield _Removal(shape, context, count - after_counts[(context, shape)], lines,
                           excerpt, pending=False)
    for pending in before.pending:
        key = (pending.context, pending.shape)
        # A pending removal counts while the shape has not come back to its function.
        if key not in seen and after_counts[key] <= before_counts[key]:
            seen.add(key)
            yield _Removal(pending.shape, pending.context, 1, (pending.line,), pending.excerpt,
                           pending=True)


def _age(carried: Iterable[Pending], fresh: Iterable[Pending]) -> tuple[Pending, ...]:
    older = [Pending(p.shape, p.context, p.line, p.excerpt, p.remaining - 1) for p in carried
             if p.remaining > 1]
    return (*older, *fresh)
