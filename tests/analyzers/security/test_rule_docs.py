"""Rule docs come from bandit itself: every rule the scanner runs has a name, a title, a page."""

from __future__ import annotations

from bandit.core import extension_loader

from analyzers.security.rule_docs import CWE_URL, bandit_rule_docs, rule_doc


def test_every_bandit_rule_has_its_title_and_page() -> None:
    manager = extension_loader.MANAGER
    ids = set(manager.plugins_by_id) | set(manager.blacklist_by_id)
    docs = bandit_rule_docs()
    assert ids == set(docs)
    for test_id, doc in docs.items():
        assert doc.description and doc.description != doc.name, test_id  # a real title
        assert doc.help_uri.startswith("https://bandit.readthedocs.io/"), test_id


def test_blacklists_keep_their_cwe_and_secret_rules_are_hard_coded_credentials() -> None:
    assert rule_doc("B301").cwe == 502
    assert rule_doc("B324").description.startswith("Test use of insecure md4, md5, or sha1")
    secret = rule_doc("aws-access-key")
    assert secret.cwe == 798 and secret.help_uri == CWE_URL.format(798)
    assert secret.description == "Hard-coded secret (aws access key)"
