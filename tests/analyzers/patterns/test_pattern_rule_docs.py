"""Every pattern rule a finding can name has a name, a description and a page."""

from __future__ import annotations

from analyzers.patterns.complexity import COMPLEXITY_RULE, MAINTAINABILITY_RULE
from analyzers.patterns.learned_findings import LEARNED_RULE_PREFIX
from analyzers.patterns.rule_docs import rule_doc
from analyzers.patterns.shapes import SHAPES


def test_every_shape_and_measure_is_documented() -> None:
    rules = [COMPLEXITY_RULE, MAINTAINABILITY_RULE,
             *(LEARNED_RULE_PREFIX + shape for shape in SHAPES)]
    docs = [rule_doc(rule) for rule in rules]
    assert all(doc is not None for doc in docs)
    assert len({doc.name for doc in docs if doc}) == len(rules)
    for doc in docs:
        assert doc and doc.description and doc.help_uri.startswith("https://")
    yaml = rule_doc("learned:yaml_load")
    assert yaml and yaml.cwe == 20 and yaml.help_uri.endswith("/20.html")
    assert "safe_load" in yaml.description
    eq_none = rule_doc("learned:eq_none")
    assert eq_none and eq_none.cwe is None  # style, not a weakness: PEP 8's page
    assert rule_doc("no_such_rule") is None and rule_doc("yaml_load") is None
