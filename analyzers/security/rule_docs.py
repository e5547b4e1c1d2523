"""What a security rule is, for whoever reads its findings: bandit's own names, pages and CWEs.

Code-scanning views (SARIF) show a rule's name, description and help link beside each
alert. bandit knows these for its rules (the plugin's name and docstring, the blacklists'
messages and CWEs, and its documentation URLs), so they are read from bandit rather than
written again. The secret rules are one kind of weakness, hard-coded credentials (CWE-798).
"""

from __future__ import annotations

import functools
import re
import sys
from collections.abc import Mapping

from analyzers.common.rule_doc import CWE_URL, RuleDoc

__all__ = ["CWE_URL", "HARDCODED_CREDENTIALS_CWE", "RuleDoc", "bandit_rule_docs", "rule_doc"]

HARDCODED_CREDENTIALS_CWE = 798

# A plugin's title, in bold in its docstring or as its module docstring's RST heading.
_TITLE = re.compile(r"^(?:\*\*)?B\d+:\s*(?P<title>.+?)(?:\*\*)?$")


def rule_doc(rule: str) -> RuleDoc:
    """The doc of a ``security_scanner`` rule id: bandit's for ``B…``, else a secret rule's."""
    known = bandit_rule_docs().get(rule)
    if known is not None:
        return known
    return RuleDoc(name=rule, description=f"Hard-coded secret ({rule.replace('-', ' ')})",
                   help_uri=CWE_URL.format(HARDCODED_CREDENTIALS_CWE),
                   cwe=HARDCODED_CREDENTIALS_CWE)


@functools.cache
def bandit_rule_docs() -> Mapping[str, RuleDoc]:
    """Every bandit rule id -> its doc, from bandit's plugin and blacklist registries."""
    # Imported here: loading bandit's plugins takes a while, and only reports need them.
    from analyzers.security.bandit_logging import quiet_bandit_logging

    quiet_bandit_logging()
    from bandit.core import docs_utils, extension_loader

    manager = extension_loader.MANAGER
    docs: dict[str, RuleDoc] = {}
    for test_id, plugin in manager.plugins_by_id.items():
        function = plugin.plugin
        module = sys.modules.get(function.__module__)
        title = _title(function.__doc__) or _title(module.__doc__ if module else None)
        docs[test_id] = RuleDoc(name=str(plugin.name), description=title or str(plugin.name),
                                help_uri=str(docs_utils.get_url(test_id)))
    for test_id, entry in manager.blacklist_by_id.items():
        cwe = entry.get("cwe")
        docs[test_id] = RuleDoc(name=f"blacklist_{entry['name']}",
                                description=str(entry.get("message") or entry["name"]),
                                help_uri=str(docs_utils.get_url(test_id)),
                                cwe=int(cwe) if isinstance(cwe, int) and cwe > 0 else None)
    return docs


def _title(docstring: str | None) -> str | None:
    """A plugin's title without its id: "Test for use of popen with shell equals true"."""
    for line in (docstring or "").splitlines():
        match = _TITLE.match(line.strip())
        if match:
            return match.group("title").strip()
    return None
