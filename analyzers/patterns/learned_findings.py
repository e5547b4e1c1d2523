"""Warnings on code that still has a shape the learner has seen fixed: ``learned:<shape>``.

:func:`warnings` turns the occurrences a file holds (:mod:`analyzers.patterns.matcher`)
into findings that name the fix they resemble ("similar to the fix in path:line"). The
excerpt shown is the matcher's, rebuilt from the tree, so no literal of the file, and so
no secret, is in a finding.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping

from analyzers.base import Finding, LearnedPattern
from analyzers.common.printable import printable
from analyzers.patterns.fingerprint import finding_fingerprint
from analyzers.patterns.matcher import Occurrence
from analyzers.patterns.shapes import SHAPES

LEARNED_RULE_PREFIX = "learned:"


def warnings(path: str, occurrences: Iterable[Occurrence],
             references: Mapping[str, LearnedPattern]) -> tuple[Finding, ...]:
    """A finding for each occurrence of a shape the learner has seen fixed.

    The fingerprint is the rule, the file, the function and the occurrence's rank
    among the same shape in that function: stable while lines move around it.
    """
    found: list[Finding] = []
    ranks: Counter[tuple[str, str]] = Counter()
    for occurrence in sorted(occurrences, key=lambda o: (o.line, o.shape)):
        reference = references.get(occurrence.shape)
        if reference is None:
            continue
        shape = SHAPES.get(occurrence.shape)
        rank_key = (occurrence.context, occurrence.shape)
        rank = ranks[rank_key]
        ranks[rank_key] += 1
        rule = LEARNED_RULE_PREFIX + occurrence.shape
        found.append(Finding(
            fingerprint=finding_fingerprint(rule, path, occurrence.context, rank),
            rule=rule, path=path, line=occurrence.line,
            severity=shape.severity if shape else "low", confidence="medium",
            message=(f"`{occurrence.excerpt}` similar to the fix in "
                     f"{printable(reference.path)}:{reference.line} — {reference.fix}"),
            preview=occurrence.excerpt))
    return tuple(found)
