"""What a pattern rule is, for whoever reads its findings: radon's measures (its pages) and
the mistake learner's shapes (the weakness each is, MITRE's page of it)."""

from __future__ import annotations

from analyzers.common.rule_doc import RuleDoc, cwe_uri
from analyzers.patterns.complexity import COMPLEXITY_RULE, MAINTAINABILITY_RULE
from analyzers.patterns.learned_findings import LEARNED_RULE_PREFIX
from analyzers.patterns.shapes import SHAPES

RADON_DOCS = "https://radon.readthedocs.io/en/latest/intro.html"
#: PEP 8's programming recommendations: where "compare with is None" is written down.
PEP8_RECOMMENDATIONS = "https://peps.python.org/pep-0008/#programming-recommendations"

_MEASURES = {
    COMPLEXITY_RULE: RuleDoc("CyclomaticComplexity",
                             "A function whose cyclomatic complexity (radon) is past the "
                             "threshold: many paths to test and to read",
                             f"{RADON_DOCS}#cyclomatic-complexity"),
    MAINTAINABILITY_RULE: RuleDoc("MaintainabilityIndex",
                                  "A module whose maintainability index (radon) is low",
                                  f"{RADON_DOCS}#maintainability-index"),
}


def rule_doc(rule: str) -> RuleDoc | None:
    """The doc of a ``pattern_probe`` rule id; None for a rule it does not report."""
    measure = _MEASURES.get(rule)
    if measure is not None:
        return measure
    shape = SHAPES.get(rule.removeprefix(LEARNED_RULE_PREFIX))
    if shape is None or not rule.startswith(LEARNED_RULE_PREFIX):
        return None
    name = "Learned" + "".join(part.capitalize() for part in shape.id.split("_"))
    description = (f"{shape.title[:1].upper()}{shape.title[1:]}; a fix of it was seen in this "
                   f"workspace: {shape.fix}")
    uri = cwe_uri(shape.cwe) if shape.cwe is not None else PEP8_RECOMMENDATIONS
    return RuleDoc(name, description, uri, shape.cwe)
