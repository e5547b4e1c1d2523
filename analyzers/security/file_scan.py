"""Scanning one file: bandit's rules if it is Python, the secret rules on its text.

This runs inside a scan worker (:mod:`analyzers.common.workerpool`), which reads the
file itself (so the daemon never holds a batch's contents at once) and reports
the hash of the bytes it scanned. Secrets are found and fingerprinted here, and
only masked findings travel back to the daemon, so a secret's value never
crosses a process boundary, let alone reaches the log. The committed baseline's
unsalted keys (:func:`~analyzers.security.baseline.baseline_key`) are compared here
too, for the same reason: the daemon learns which salted fingerprints they accept.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from analyzers.base import Finding
from analyzers.common.secrets.find import SecretHit, decode_text, find_secrets
from analyzers.common.secrets.redact import mask, redact_bandit_message
from analyzers.common.secrets.rules import RULE_TITLES
from analyzers.common.sourcefile import Skip, read_source
from analyzers.security.baseline import baseline_key
from analyzers.security.fingerprint import fingerprint

if TYPE_CHECKING:
    from analyzers.security.python_rules import PyIssue

PYTHON_SUFFIXES = (".py", ".pyw")

# bandit's levels on our scale (daemon.log.events.SEVERITIES).
BANDIT_SEVERITY = {"HIGH": "high", "MEDIUM": "medium", "LOW": "low", "UNDEFINED": "info"}
BANDIT_CONFIDENCE = {"HIGH": "high", "MEDIUM": "medium", "LOW": "low", "UNDEFINED": "low"}

_PYTHON_SHEBANG = re.compile(rb"^#![^\n]*\bpython[0-9.]*\b")
_SPACES = re.compile(r"\s+")


def is_python(path: str, head: bytes) -> bool:
    """``*.py``/``*.pyw``, or a script whose ``#!`` line runs Python."""
    return path.endswith(PYTHON_SUFFIXES) or bool(_PYTHON_SHEBANG.match(head[:256]))


@dataclass(frozen=True)
class FileTask:
    path: str  # relative, "/"-separated: shown, and part of every fingerprint
    location: str  # where it is on disk (bandit derives a module name from it)
    python: bool
    max_bytes: int
    # SHA-1s of the secrets the workspace's detect-secrets baseline records for this file:
    # only a worker holds a secret's value, so only a worker can compare it.
    accepted_secrets: frozenset[str] = frozenset()
    # Keys the realworld baseline (version 2) records for this file.
    baseline_keys: frozenset[str] = frozenset()


@dataclass(frozen=True)
class FileReport:
    findings: tuple[Finding, ...]  # masked, fingerprinted, baseline not applied
    digest: str = ""  # SHA-256 of the bytes scanned; empty when skipped
    skipped: Skip | None = None  # why the file could not be scanned (it changed meanwhile)
    problems: tuple[str, ...] = ()  # one line each; never quotes the file's content
    rule_errors: int = 0
    python_scanned: bool = False
    accepted: tuple[str, ...] = ()  # fingerprints of findings the detect-secrets baseline has
    baselined: tuple[str, ...] = ()  # fingerprints of findings the realworld baseline has


@dataclass(frozen=True)
class WorkerSetup:
    """What each worker is built with: the fingerprint salt and bandit's plugin options."""

    salt: bytes
    bandit_options: str = ""  # canonical JSON (analyzers.security.workspace_config)


class FileScanner:
    """Built once per worker: loading bandit's plugins is the expensive part."""

    def __init__(self, salt: bytes, bandit_options: str = "") -> None:
        # Imported here, in the worker: bandit's plugin loading logs (stevedore reports
        # formatters it cannot load) and costs start-up time the daemon need not pay.
        from analyzers.security.bandit_logging import quiet_bandit_logging

        quiet_bandit_logging()
        from analyzers.security.python_rules import BanditRules
        self._rules = BanditRules(json.loads(bandit_options) if bandit_options else None)
        self._salt = salt

    def __call__(self, task: FileTask) -> FileReport:
        source = read_source(task.location, task.max_bytes)
        if isinstance(source, Skip):  # changed since the daemon looked: say what it is now
            return FileReport((), skipped=source)
        return self.scan(task, source.data, source.content_hash)

    def scan(self, task: FileTask, data: bytes, digest: str = "") -> FileReport:
        """The findings in ``data``, taken as the content of ``task.path``."""
        keyed, hits, problems, rule_errors, python_scanned = self._keyed(task, data)
        findings = tuple(finding for finding, _ in keyed)
        secrets = keyed[len(keyed) - len(hits):]
        accepted = tuple(finding.fingerprint
                         for (finding, _), hit in zip(secrets, hits, strict=True)
                         if task.accepted_secrets and _sha1(hit.value) in task.accepted_secrets)
        baselined = tuple(finding.fingerprint for finding, key in keyed
                          if key in task.baseline_keys)
        return FileReport(findings, digest, None, tuple(problems), rule_errors,
                          python_scanned, accepted, baselined)

    def keyed(self, task: FileTask, data: bytes) -> list[tuple[Finding, str]]:
        """Each finding in ``data`` with its baseline key (what a baseline update writes)."""
        return self._keyed(task, data)[0]

    def _keyed(self, task: FileTask, data: bytes
               ) -> tuple[list[tuple[Finding, str]], list[SecretHit], list[str], int, bool]:
        text = decode_text(data)
        lines = text.splitlines()
        keyed: list[tuple[Finding, str]] = []
        problems: list[str] = []
        rule_errors = 0
        python_scanned = False
        if task.python:
            try:
                scan = self._rules.scan(data, task.location)
            except SyntaxError as exc:
                # The message alone: SyntaxError.text would quote the offending line.
                problems.append(f"python: not parsed ({type(exc).__name__}: {exc.msg}, "
                                f"line {exc.lineno})")
            except (ValueError, RecursionError, MemoryError) as exc:
                problems.append(f"python: not parsed ({type(exc).__name__})")
            else:
                python_scanned = True
                rule_errors = scan.rule_errors
                keyed += self._python_findings(task.path, scan.issues, lines)
        hits = find_secrets(text)
        keyed += self._secret_findings(task.path, hits)
        return keyed, hits, problems, rule_errors, python_scanned

    def _python_findings(self, path: str, issues: tuple[PyIssue, ...],
                         lines: list[str]) -> list[tuple[Finding, str]]:
        seen: Counter[tuple[str, str]] = Counter()
        out = []
        for issue in sorted(issues, key=lambda i: (i.line, i.col, i.test_id)):
            # The code on the line, not its number, so the fingerprint survives edits above it.
            code = _SPACES.sub(" ", lines[issue.line - 1]).strip() if (
                0 < issue.line <= len(lines)) else ""
            key = (issue.test_id, code)
            occurrence = seen[key]
            seen[key] += 1
            out.append((Finding(
                fingerprint=fingerprint(self._salt, "bandit", issue.test_id, path, code,
                                        occurrence),
                rule=issue.test_id, path=path, line=issue.line,
                severity=BANDIT_SEVERITY.get(issue.severity, "info"),
                confidence=BANDIT_CONFIDENCE.get(issue.confidence, "low"),
                message=f"{issue.test_name}: {redact_bandit_message(issue.test_id, issue.text)}"),
                baseline_key("bandit", issue.test_id, path, code, occurrence)))
        return out

    def _secret_findings(self, path: str, hits: list[SecretHit]) -> list[tuple[Finding, str]]:
        seen: Counter[tuple[str, str]] = Counter()
        out = []
        for hit in hits:
            key = (hit.rule, hit.value)
            occurrence = seen[key]
            seen[key] += 1
            out.append((Finding(
                fingerprint=fingerprint(self._salt, "secret", hit.rule, path, hit.value,
                                        occurrence),
                rule=hit.rule, path=path, line=hit.line, severity=hit.severity,
                confidence=hit.confidence,
                message=f"{RULE_TITLES.get(hit.rule, hit.rule)} in the source",
                preview=mask(hit.value)),
                baseline_key("secret", hit.rule, path, hit.value, occurrence)))
        return out


def _sha1(value: str) -> str:
    """The hash detect-secrets records of a secret (``hashed_secret``)."""
    return hashlib.sha1(value.encode("utf-8"), usedforsecurity=False).hexdigest()


def make_file_scanner(setup: WorkerSetup) -> Callable[[FileTask], FileReport]:
    """The worker pool's initializer: importable at module level, so picklable."""
    return FileScanner(setup.salt, setup.bandit_options)

