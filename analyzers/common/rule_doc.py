"""What a rule is, for whoever reads its findings: the shape every capability's rule docs
share (a name, a description, a page, a CWE), so a report links every rule the same way."""

from __future__ import annotations

from dataclasses import dataclass

#: MITRE's page of a weakness; bandit links CWEs the same way.
CWE_URL = "https://cwe.mitre.org/data/definitions/{}.html"


@dataclass(frozen=True)
class RuleDoc:
    name: str
    description: str
    help_uri: str
    cwe: int | None = None


def cwe_uri(cwe: int) -> str:
    return CWE_URL.format(cwe)
