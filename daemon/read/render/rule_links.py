"""Where each capability's rules are documented, for the renderers that link a finding's rule
(SARIF's ``helpUri``, the HTML report's links): every rule a finding can name."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Final

from analyzers.common.rule_doc import RuleDoc
from analyzers.patterns.rule_docs import rule_doc as pattern_rule_doc
from analyzers.security.rule_docs import rule_doc as security_rule_doc

RULE_DOCS: Final[Mapping[str, Callable[[str], RuleDoc | None]]] = {
    "security_scanner": security_rule_doc,
    "pattern_probe": pattern_rule_doc,
}


def rule_doc(capability: str, rule: str) -> RuleDoc | None:
    """The doc of ``capability``'s ``rule``; None for a capability whose rules have none."""
    documented = RULE_DOCS.get(capability)
    return documented(rule) if documented is not None and rule else None
