"""The fingerprint of a ``pattern_probe`` finding: the same finding, the same id, line moves or not.

Shared by the complexity findings (:mod:`analyzers.patterns.complexity`) and the
learned-pattern warnings (:mod:`analyzers.patterns.learned_findings`): a fingerprint is
what the ``findings`` projection and ``resolved`` know a finding by, so it names the
rule, the file and the function, never a line number.
"""

from __future__ import annotations

import hashlib

CAPABILITY = "pattern_probe"


def finding_fingerprint(rule: str, path: str, name: str, ordinal: int = 0) -> str:
    """Stable across line moves: the rule, the file and the function's qualified name.

    ``ordinal`` tells apart definitions of one name in one file (a property's getter
    and setter), counted in source order.
    """
    text = "\0".join((CAPABILITY, rule, path, name, str(ordinal)))
    # surrogatepass: a path that is not UTF-8 still hashes, and to the same value each time.
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]
