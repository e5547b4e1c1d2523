"""SARIF 2.1.0 from issues and findings: rows in, one log (a JSON-ready dict) out.

Generic on purpose, so ``realworld report --format sarif`` (a session's issues and
findings) and ``realworld findings --format sarif`` (findings only) can share it: pass
the rows you have, as dicts keyed by the ``issues`` / ``findings`` column names (the
analysis API dict's ``top_issues`` items fit too).

Mapping, and why:

* **Rule ids** are namespaced so an issue type can never collide with an analyzer's rule
  name: ``issue/<issue_type>`` for issues, ``<capability>/<rule>`` for findings (e.g.
  ``security_scanner/B105``).
* **Levels**: critical and high -> ``error``, medium -> ``warning``, low and info (and
  anything unknown) -> ``note``. The original severity stays in ``properties.severity``.
  Rules of security findings (capability ``security_scanner``) are tagged ``security`` and
  carry ``properties["security-severity"]`` (critical 9.5, high 8.0, medium 5.5, low 3.0,
  info 0.0; the highest of the rule's results), the number GitHub code scanning ranks
  security alerts by.
* **Locations**: a finding has a file and a line: a physical location relative to the
  ``%SRCROOT%`` base id (its URI set from ``project_root`` when that is an absolute
  path; without it a viewer resolves ``%SRCROOT%`` to the checkout it scans). A
  file name is percent-encoded from its bytes, so a name that is not UTF-8 still makes a
  valid URI. Paths are POSIX paths (the analyzers record ``as_posix()`` forms), so '/' is
  the only separator: a backslash is an ordinary file-name character there and becomes
  ``%5C``; reading it as a separator would point the viewer at another file. An issue
  is about how an analyzer ran, not about a file: it is a tool-execution notification of
  the run's invocation (level, message, a descriptor ``issue/<issue_type>``, a logical
  location of kind ``module`` named after the capability), not a result. GitHub code
  scanning rejects the whole file when any result lacks a physical location.
* **Fingerprints**: a finding's fingerprint (stable across line moves) goes into
  ``partialFingerprints`` (an issue's id into its notification's properties), so a viewer
  tracks the same result across runs; the fingerprint is also the
  ``primaryLocationLineHash`` GitHub matches alerts by (it would otherwise hash the line's
  text, so an alert would reopen when its line moves).
* **Rule docs**: every rule carries a name, a description, a page (``helpUri``, and
  ``help`` in text and markdown) and, where it is one, its weakness as an
  ``external/cwe/cwe-N`` tag (:mod:`daemon.read.render.rule_links`): bandit's for its
  rules, CWE-798 for secrets, radon's pages for complexity, the CWE of each shape the
  mistake learner warns of.
* **No secrets**: only the masked ``preview`` a finding row holds is copied, never more.
* Results are findings by path, line and rule, so the output is deterministic;
  notifications are the issues in the order given (``top_issues`` is critical first).
* **GitHub's limits**: more than 25,000 results in a run is refused, so the most severe
  25,000 are kept and a warning notification says how many were left out.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import PurePosixPath
from typing import Any, Final
from urllib.parse import quote

from analyzers.common.rule_doc import RuleDoc
from daemon.read.render.rule_links import rule_doc
from daemon.types import severity_rank

SARIF_VERSION: Final = "2.1.0"
SARIF_SCHEMA: Final = (
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)
TOOL_NAME: Final = "realworld"
# The base id GitHub code scanning and most SARIF viewers resolve to the checkout's root.
ROOT_BASE_ID: Final = "%SRCROOT%"

LEVELS: Final[dict[str, str]] = {
    "critical": "error", "high": "error", "medium": "warning", "low": "note", "info": "note",
}
# Capabilities whose findings are security alerts (tagged "security", with a score).
SECURITY_CAPABILITIES: Final = frozenset({"security_scanner"})
SECURITY_SEVERITY: Final[dict[str, float]] = {
    "critical": 9.5, "high": 8.0, "medium": 5.5, "low": 3.0, "info": 0.0,
}

Row = Mapping[str, Any]
#: GitHub code scanning rejects a run with more results than this (its hard limit).
MAX_RESULTS: Final = 25_000
TRUNCATED_ID: Final = "realworld/results-truncated"



def clean(value: Any) -> str:
    """Text that JSON-encodes to valid UTF-8: lone surrogates become U+FFFD."""
    return str(value).encode("utf-8", "surrogatepass").decode("utf-8", "replace")


def level(severity: Any) -> str:
    return LEVELS.get(str(severity or "").lower(), "note")


def _severity(row: Row) -> str:
    return clean(row.get("severity") or "info").lower()


def path_uri(path: str) -> tuple[str, bool]:
    """(URI reference, is relative) for a finding's path; percent-encoded from its bytes."""
    raw = os.fsencode(path)  # surrogateescape: the file name's own bytes
    encoded = quote(raw, safe="/")
    if raw.startswith(b"/"):
        return "file://" + encoded, False
    return encoded, True


def root_uri(project_root: str | None) -> str | None:
    """A ``file:`` URI ending in '/' for an absolute POSIX root, else None."""
    if not project_root or not PurePosixPath(project_root).is_absolute():
        return None
    uri, _ = path_uri(project_root)
    return uri if uri.endswith("/") else uri + "/"


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = " ".join(clean(value).split())
    return text or None


def _issue_notification(row: Row) -> tuple[dict[str, Any], dict[str, Any]]:
    """An issue as a tool-execution notification and the descriptor it refers to."""
    capability = clean(row.get("capability") or "unknown")
    issue_type = clean(row.get("issue_type") or "issue")
    descriptor_id = f"issue/{issue_type}"
    severity = _severity(row)
    description = _text(row.get("description")) or f"{issue_type} in {capability}"
    fix = _text(row.get("suggested_fix"))
    message = f"{description}. Fix: {fix}" if fix else description
    properties: dict[str, Any] = {"severity": severity, "capability": capability,
                                  "kind": "issue"}
    if row.get("issue_id"):
        properties["issueId"] = clean(row["issue_id"])
    if fix:
        properties["suggestedFix"] = fix
    if row.get("reproducible") is not None:
        properties["reproducible"] = bool(row.get("reproducible"))
    notification: dict[str, Any] = {
        "level": level(severity),
        "message": {"text": message},
        "descriptor": {"id": descriptor_id},
        "locations": [{"logicalLocations": [{"name": capability, "kind": "module"}]}],
        "properties": properties,
    }
    descriptor = {
        "id": descriptor_id,
        "name": "".join(part.capitalize() for part in issue_type.split("_")) or "Issue",
        "shortDescription": {"text": f"realworld issue: {issue_type.replace('_', ' ')}"},
        "properties": {"tags": ["realworld", "issue"]},
    }
    return notification, descriptor


def _finding_result(row: Row) -> tuple[str, dict[str, Any], dict[str, Any]]:
    capability = clean(row.get("capability") or "unknown")
    rule_name = clean(row.get("rule") or "finding")
    rule_id = f"{capability}/{rule_name}"
    severity = _severity(row)
    uri, relative = path_uri(str(row.get("path") or ""))
    artifact: dict[str, Any] = {"uri": uri}
    if relative:
        artifact["uriBaseId"] = ROOT_BASE_ID
    try:
        line = max(1, int(row.get("line") or 1))
    except (TypeError, ValueError):
        line = 1
    properties: dict[str, Any] = {"severity": severity, "capability": capability,
                                  "kind": "finding"}
    for key, name in (("confidence", "confidence"), ("preview", "maskedPreview"),
                      ("first_seen", "firstSeen"), ("last_seen", "lastSeen")):
        if row.get(key):
            properties[name] = clean(row[key])
    result: dict[str, Any] = {
        "ruleId": rule_id,
        "level": level(severity),
        "message": {"text": _text(row.get("message")) or rule_name},
        "locations": [{"physicalLocation": {"artifactLocation": artifact,
                                            "region": {"startLine": line}}}],
        "properties": properties,
    }
    if row.get("fingerprint"):
        fingerprint = clean(row["fingerprint"])
        result["partialFingerprints"] = {"realworldFingerprint/v1": fingerprint,
                                         "primaryLocationLineHash": f"{fingerprint}:1"}
    rule_properties: dict[str, Any] = {"tags": ["realworld", capability]}
    if capability in SECURITY_CAPABILITIES:
        rule_properties["tags"].append("security")
        rule_properties["security-severity"] = f"{SECURITY_SEVERITY.get(severity, 0.0):.1f}"
    rule: dict[str, Any] = {
        "id": rule_id,
        "name": rule_name,
        "shortDescription": {"text": f"{capability}: {rule_name}"},
        "properties": rule_properties,
    }
    doc = rule_doc(capability, rule_name)
    if doc is not None:
        _document(rule, rule_name, doc)
    return rule_id, rule, result


def _document(rule: dict[str, Any], rule_name: str, doc: RuleDoc) -> None:
    rule["name"] = doc.name
    rule["shortDescription"] = {"text": doc.description}
    rule["fullDescription"] = {"text": doc.description}
    rule["helpUri"] = doc.help_uri
    rule["help"] = {"text": f"{doc.description}. See {doc.help_uri}",
                    "markdown": f"{doc.description}. See [{rule_name}]({doc.help_uri})."}
    if doc.cwe is not None:
        rule["properties"]["tags"].append(f"external/cwe/cwe-{doc.cwe}")


def _merge_rule(rules: dict[str, dict[str, Any]], rule_id: str, rule: dict[str, Any]) -> None:
    known = rules.get(rule_id)
    if known is None:
        rules[rule_id] = rule
        return
    # One rule, results of several severities: the rule advertises the worst.
    old = known["properties"].get("security-severity")
    new = rule["properties"].get("security-severity")
    if old is not None and new is not None and float(new) > float(old):
        known["properties"]["security-severity"] = new


def _finding_order(row: Row) -> tuple[str, int, str]:
    try:
        line = int(row.get("line") or 0)
    except (TypeError, ValueError):
        line = 0
    return (clean(row.get("path") or ""), line, clean(row.get("rule") or ""))


def _severity_rank(result: dict[str, Any]) -> int:
    return severity_rank(str(result.get("properties", {}).get("severity") or ""))


def to_sarif(issues_rows: Iterable[Row], findings_rows: Iterable[Row], tool_version: str, *,
             project_root: str | None = None,
             run_properties: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """One SARIF 2.1.0 log with one run of the ``realworld`` tool (mapping above).

    ``run_properties`` (e.g. the session id) go into the run's property bag.
    """
    rules: dict[str, dict[str, Any]] = {}
    results: list[dict[str, Any]] = []
    for row in sorted(findings_rows, key=_finding_order):
        rule_id, rule, result = _finding_result(row)
        _merge_rule(rules, rule_id, rule)
        results.append(result)
    notifications: list[dict[str, Any]] = []
    if len(results) > MAX_RESULTS:
        # GitHub rejects a run of more; the most severe are kept, in their order.
        kept = sorted(range(len(results)), key=lambda i: (_severity_rank(results[i]), i))
        keep = set(kept[:MAX_RESULTS])
        notifications.append({
            "level": "warning",
            "message": {"text": f"{len(results) - MAX_RESULTS} of {len(results)} findings left "
                                f"out: code scanning accepts at most {MAX_RESULTS:,} results "
                                f"per run; the most severe are kept (realworld findings lists "
                                f"them all)"},
            "descriptor": {"id": TRUNCATED_ID}})
        results = [r for i, r in enumerate(results) if i in keep]
        used = {r["ruleId"] for r in results}
        rules = {rule_id: rule for rule_id, rule in rules.items() if rule_id in used}
    ordered_ids = sorted(rules)
    index = {rule_id: i for i, rule_id in enumerate(ordered_ids)}
    for result in results:
        result["ruleIndex"] = index[result["ruleId"]]
    descriptors: dict[str, dict[str, Any]] = {}
    if notifications:
        descriptors[TRUNCATED_ID] = {"id": TRUNCATED_ID, "name": "ResultsTruncated",
                                     "shortDescription": {"text": "results left out"}}
    issue_notes = []
    for row in issues_rows:
        notification, descriptor = _issue_notification(row)
        descriptors.setdefault(descriptor["id"], descriptor)
        issue_notes.append(notification)
    notifications = issue_notes + notifications
    descriptor_ids = list(descriptors)
    for notification in notifications:
        notification["descriptor"]["index"] = descriptor_ids.index(
            notification["descriptor"]["id"])
    driver: dict[str, Any] = {"name": TOOL_NAME, "version": clean(tool_version),
                              "rules": [rules[rule_id] for rule_id in ordered_ids]}
    if descriptors:
        driver["notifications"] = list(descriptors.values())
    run: dict[str, Any] = {
        "tool": {"driver": driver},
        "columnKind": "unicodeCodePoints",
        "results": results,
    }
    if notifications:
        run["invocations"] = [{"executionSuccessful": True,
                               "toolExecutionNotifications": notifications}]
    root = root_uri(project_root)
    if root:
        run["originalUriBaseIds"] = {ROOT_BASE_ID: {"uri": root}}
    if run_properties:
        run["properties"] = {clean(k): v for k, v in run_properties.items()}
    return {"$schema": SARIF_SCHEMA, "version": SARIF_VERSION, "runs": [run]}
