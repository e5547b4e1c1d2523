"""``security_scanner``: bandit's rules on Python files and the secret rules on every text file.

Incremental by content hash: a file is read and hashed on every call, but
scanned again only when its bytes changed, so a full pass over an unchanged
workspace costs a read per file. Files are scanned in worker processes
(:mod:`analyzers.common.workerpool`), each under its own deadline: a file that makes a
rule super-linear or crashes a worker is an error for that file only, and the
same bytes are not tried again until they change.

What a call returns: every finding of the files it looked at (a finding seen
again only refreshes its row in the ``findings`` projection), and in
``resolved`` the fingerprints reported earlier that those files no longer have,
including every finding of a deleted file. A finding accepted in the baseline
(:mod:`analyzers.security.baseline`) is not reported, and is resolved if it had been;
the workers compare the baseline's unsalted keys (a file is scanned again when its
entries change), so the daemon only learns which fingerprints they accept. A baseline
that matches none of the findings on a full pass is a ``problem`` in the data, not a
silent no-op.

Secrets never leave the workers in clear (:mod:`analyzers.security.file_scan`): the
log gets a salted fingerprint and a masked preview.

Bounded work per call: with ``budget_s`` set, files not started within it are
left for the next call (``deferred`` in the data), so a first pass over a huge
workspace makes progress across calls instead of outliving the runner's deadline.

Restarts resume: each file's outcome (its digest, its masked findings, what was
reported of them, a crash or timeout on its bytes) is written to the result cache
(:mod:`analyzers.common.result_cache`) as it completes, checkpointed every few hundred
files or second. A new process loads it when it first sees the workspace, so
unchanged files are not scanned again, and a finding whose file was fixed or
deleted while the daemon was down is resolved on the next look. The cache is
keyed by the salt's id: another salt makes other fingerprints, so its rows go.

The workspace's own conventions are honoured (:mod:`analyzers.security.workspace_config`):
its bandit config (``tests``, ``skips``, ``exclude_dirs``, plugin options) and its
detect-secrets ``.secrets.baseline``, beside our per-path skips and their default
(:mod:`analyzers.security.skips`). Files are scanned with every rule and findings hidden
afterwards, each counted under the skip that hid it (``skipped_by_configuration`` in the
data), so a change of selection needs no new scan. What changes a file's findings
themselves (bandit's plugin options, the secrets the baseline records for it) is part of
the file's cached state, and a file scanned under other ones is scanned again.

Per-file failures are returned as :class:`~analyzers.base.FileFailure` (a worker
crash, a file's deadline, a file busy or written to while read) so the runner can
retry or quarantine the file; quarantined paths (:meth:`SecurityScanner.exclude`)
are never opened.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog

from analyzers.base import SEVERITIES, AnalysisResult, FileFailure, Finding, is_full_pass
from analyzers.common.batch_paths import is_workspace_relative
from analyzers.common.finding_data import finding_to_data, findings_from_data, strings_from_data
from analyzers.common.result_cache import (
    COMMIT_EVERY_ROWS,
    COMMIT_EVERY_SECONDS,
    Entry,
    ResultCache,
)
from analyzers.common.sourcefile import Skip, read_source
from analyzers.common.walk import IgnoreRule, default_ignore, list_workspace
from analyzers.common.workerpool import Outcome, WorkerPool, default_processes
from analyzers.security.baseline import (
    EMPTY,
    UPDATE_HINT,
    Baseline,
    baseline_path,
    load_baseline,
)
from analyzers.security.file_scan import (
    FileReport,
    FileTask,
    WorkerSetup,
    is_python,
    make_file_scanner,
)
from analyzers.security.fingerprint import SaltError, default_salt_path, load_salt, salt_id
from analyzers.security.skips import (
    SOURCE_DETECT_SECRETS,
    SOURCE_PER_PATH,
    Hidden,
    PathSkip,
    SkipRules,
    compile_path_skips,
    skip_rules,
)
from analyzers.security.workspace_config import (
    BANDIT_INI,
    DETECT_SECRETS_BASELINE,
    PYPROJECT,
    BanditSettings,
    DetectSecretsBaseline,
    read_bandit_settings,
    read_detect_secrets_baseline,
)

log = structlog.get_logger("realworld.security_scanner")

DEFAULT_FILE_TIMEOUT_S = 10.0
DEFAULT_BUDGET_S = 20.0  # below the runner's default 30 s deadline per call
DEFAULT_MAX_FILE_BYTES = 8 * 1024 * 1024
#: Problems and errors named one by one in the activity's data (the counts cover all of
#: them), each text clipped: a call's data stays this size however broken the workspace.
MAX_LISTED = 5
MAX_LISTED_CHARS = 200


@dataclass(frozen=True)
class _Known:
    """What the last successful scan of a path found (baseline not applied)."""

    digest: str
    findings: tuple[Finding, ...]
    accepted: frozenset[str] = frozenset()  # fingerprints the detect-secrets baseline has
    scan_key: str = ""  # what the findings depend on beside the bytes (see _scan_key)
    baselined: frozenset[str] = frozenset()  # fingerprints the realworld baseline has


class SecurityScanner:
    name = "security_scanner"
    activity_type = "security_scan"

    def __init__(self, *, ignore: IgnoreRule = default_ignore, processes: int | None = None,
                 file_timeout_s: float = DEFAULT_FILE_TIMEOUT_S,
                 budget_s: float | None = DEFAULT_BUDGET_S,
                 max_file_bytes: int = DEFAULT_MAX_FILE_BYTES, salt: bytes | None = None,
                 salt_path: Path | None = None,
                 baseline: str | os.PathLike[str] | None = None,
                 log_path: str | os.PathLike[str] | None = None,
                 cache_path: str | os.PathLike[str] | None = None,
                 env: Mapping[str, str] | None = None,
                 per_path_skips: Mapping[str, Sequence[str]] | None = None,
                 commit_every: int = COMMIT_EVERY_ROWS,
                 commit_seconds: float = COMMIT_EVERY_SECONDS) -> None:
        self._ignore = ignore
        self._processes = processes if processes is not None else default_processes()
        self._file_timeout_s = file_timeout_s
        self._budget_s = budget_s
        self._max_file_bytes = max_file_bytes
        self._salt = salt
        self._salt_path = salt_path
        self._configured_baseline = baseline
        # None: not configured, so the default applies (unless the workspace's bandit
        # config speaks); an empty mapping turns the default off.
        self._per_path: tuple[PathSkip, ...] | None = (
            None if per_path_skips is None
            else compile_path_skips(per_path_skips.items(), SOURCE_PER_PATH))
        self._pool: WorkerPool | None = None
        self._root: Path | None = None
        self._cache_options: dict[str, Any] = {
            "explicit": cache_path, "log_path": log_path, "env": env,
            "commit_every": commit_every, "commit_seconds": commit_seconds}
        self._cache: ResultCache | None = None
        self._excluded: frozenset[str] = frozenset()
        self._interrupted = threading.Event()
        self._reset()

    def _reset(self) -> None:
        if self._cache is not None:
            self._cache.close()
            self._cache = None
        self._known: dict[str, _Known] = {}
        self._reported: dict[str, frozenset[str]] = {}
        self._failed: dict[str, str] = {}  # path -> digest whose scan timed out or crashed
        self._pending: dict[str, None] = {}  # paths left over by the budget, in order
        self._baseline: Baseline = EMPTY
        self._baseline_stamp: tuple[int, int] | None = None
        self._baseline_warned = ""
        self._bandit = BanditSettings()
        self._detect = DetectSecretsBaseline()
        self._skips: SkipRules = skip_rules(self._bandit, self._per_path)
        self._conventions_stamp: tuple[tuple[int, int] | None, ...] | None = None

    # --- the analyzer protocol ------------------------------------------------------

    def applies_to(self, path: str) -> bool:
        return not self._ignore(path, False)

    def prepare(self, root: Path, paths: Sequence[str]) -> None:
        """Start workers (importing bandit) while the batch's earlier calls run: one for a
        full pass (which files changed, only reading says; the rest start once many have)."""
        if self._interrupted.is_set() or (self._pool is not None and self._pool.size > 0):
            return
        count = 1 if is_full_pass(paths) else sum(
            1 for path in dict.fromkeys(paths) if self.applies_to(path))
        if count:
            with contextlib.suppress(SaltError):  # the call itself says what is wrong
                self._ensure_pool().start(count)

    def exclude(self, paths: frozenset[str]) -> None:
        """Quarantined paths (the whole set): never opened until the runner releases them."""
        self._excluded = frozenset(paths)

    def interrupt(self) -> None:
        """The session is ending: files not yet scanned are left for the next session,
        and the workers holding one are stopped (they are processes: nothing of ours is
        closed under a thread)."""
        self._interrupted.set()
        pool = self._pool
        if pool is not None:
            pool.interrupt()

    def analyze(self, root: Path, paths: Sequence[str]) -> AnalysisResult:
        started = time.monotonic()
        root = Path(root)
        salt = self._load_salt()
        if self._root != root or self._cache is None:
            self._root = root
            self._reset()
            self._resume(root, salt)
        assert self._cache is not None
        baseline_changed = self._refresh_baseline(root, salt)
        baseline_changed |= self._refresh_conventions(root)
        skipped: Counter[str] = Counter()
        problems: list[dict[str, str]] = []
        failures: list[FileFailure] = []
        full = is_full_pass(paths)
        if full:
            listing = list_workspace(root, self._ignore)
            present = set(listing.files)
            gone = [p for p in dict.fromkeys([*self._known, *self._failed]) if p not in present]
            targets = list(dict.fromkeys([*self._pending, *listing.files]))
            for directory, reason in listing.problems:
                problems.append({"path": directory, "problem": reason})
            problems += self._convention_problems()
        else:
            gone = []
            targets = list(dict.fromkeys([*self._pending, *paths]))
        self._pending.clear()
        if targets and (self._pool is None or self._pool.size == 0):
            # Worker start-up (importing bandit) overlaps the reading and hashing below. A
            # full pass starts one: after the first pass, most find a file or two changed,
            # and each worker costs a core 0.1 s; the pool starts the rest for many files.
            self._ensure_pool().start(1 if full else len(targets))
        baseline_file = self._baseline.path
        detect_file = root / DETECT_SECRETS_BASELINE  # hashes of secrets: not scanned
        tasks: list[FileTask] = []
        digests: list[str] = []
        sizes: list[int] = []
        touched: list[str] = []
        cached = 0
        for position, path in enumerate(targets):
            if self._interrupted.is_set():
                self._pending.update(dict.fromkeys(targets[position:]))
                break
            if path in self._excluded:
                skipped["quarantined"] += 1
                continue
            if not is_workspace_relative(path) or root / path in (baseline_file, detect_file):
                skipped["not_scanned"] += 1
                continue
            # Read here only to hash (the bytes are dropped at once); the worker reads the
            # file again for itself, so memory stays at one file however big the batch.
            source = read_source(root / path, self._max_file_bytes)
            if isinstance(source, Skip):
                self._skipped(path, source, skipped, problems, touched, gone, failures)
                continue
            known = self._known.get(path)
            accepted = self._detect.for_path(path)
            keys = self._baseline.keys_for(path)
            if (known is not None and known.digest == source.content_hash
                    and known.scan_key == self._scan_key(accepted, keys)):
                cached += 1
                touched.append(path)
            elif full and self._failed.get(path) == source.content_hash:
                # A pass does not try again bytes that crashed or timed out; a batch naming
                # the file does (the runner isolating it: twice, and it is quarantined).
                skipped["failed_before"] += 1
            else:
                tasks.append(FileTask(path, os.fspath(root / path),
                                      is_python(path, source.data[:256]), self._max_file_bytes,
                                      accepted, keys))
                digests.append(source.content_hash)
                sizes.append(source.size)
            del source
        # Largest first: a big file started last would leave the other workers idle.
        order = sorted(range(len(tasks)), key=lambda i: -sizes[i])
        tasks, digests = [tasks[i] for i in order], [digests[i] for i in order]
        scanned, errors, deferred, python_files, rule_errors = self._scan(
            tasks, digests, started, problems, touched, skipped, gone, failures)
        for path in deferred:
            self._pending[path] = None
        deferred_count = len(self._pending)
        findings, resolved, baselined, hidden = self._report(
            touched, gone, everything=baseline_changed)
        self._cache.commit()
        return self._result(findings, resolved, baselined, hidden, full=full,
                            scanned=scanned, cached=cached,
                            skipped=skipped, errors=errors, problems=problems,
                            deferred=deferred_count, python_files=python_files,
                            rule_errors=rule_errors, salt=salt, failures=failures,
                            unmatched=full and not deferred_count)

    def release(self) -> None:
        """Stop the idle worker processes; the next call starts them again."""
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    def close(self) -> None:
        """Stop the worker processes (they also end with the daemon) and write the cache."""
        self.release()
        if self._cache is not None:
            self._cache.close()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.close()

    # --- steps --------------------------------------------------------------------

    def _resume(self, root: Path, salt: bytes) -> None:
        """Take back what an earlier process stored for ``root``: the files' digests (so
        unchanged ones are not scanned again) and what was reported (so what went away
        while nobody watched is resolved)."""
        self._cache = ResultCache.for_workspace(root, self.name, salt_id(salt),
                                                **self._cache_options)
        for path, entry in self._cache.load().items():
            restored = _restore(entry)
            if restored is None:
                continue  # a row this version cannot read: that file is scanned again
            known, reported, failed = restored
            if known is not None:
                self._known[path] = known
            if reported:
                self._reported[path] = reported
            if failed:
                self._failed[path] = failed

    def _save(self, path: str) -> None:
        """Write ``path``'s state through to the cache (at the next checkpoint)."""
        assert self._cache is not None
        known = self._known.get(path)
        reported = self._reported.get(path)
        failed = self._failed.get(path)
        if known is None and not reported and failed is None:
            self._cache.delete(path)
            return
        payload: dict[str, Any] = {}
        if known is not None:
            payload["findings"] = [finding_to_data(f) for f in known.findings]
            if known.accepted:
                payload["accepted"] = sorted(known.accepted)
            if known.scan_key:
                payload["scan_key"] = known.scan_key
            if known.baselined:
                payload["baselined"] = sorted(known.baselined)
        if reported:
            payload["reported"] = sorted(reported)
        if failed is not None:
            payload["failed"] = failed
        self._cache.put(path, known.digest if known is not None else "", payload)

    def _load_salt(self) -> bytes:
        if self._salt is None:
            self._salt = load_salt(self._salt_path or default_salt_path())
        return self._salt

    def _refresh_baseline(self, root: Path, salt: bytes) -> bool:
        """Reload the baseline when its file changed; True if what it accepts changed."""
        path = baseline_path(root, self._configured_baseline)
        stamp = _stamp(path)
        if stamp == self._baseline_stamp and self._baseline.path == path:
            return False
        self._baseline_stamp = stamp
        before = self._baseline
        self._baseline = (load_baseline(path, salt_id(salt)) if stamp is not None
                          else Baseline(path=path))
        for problem in (self._baseline.problem, self._baseline.notice):
            if problem and problem not in (before.problem, before.notice):
                log.warning("baseline_not_applied" if problem == self._baseline.problem
                            else "baseline_outdated", problem=problem)
        # Keys are compared in the workers: files whose entries changed are scanned again.
        changed = {p for p in {*before.by_path, *self._baseline.by_path}
                   if before.keys_for(p) != self._baseline.keys_for(p)}
        self._pending.update(dict.fromkeys(p for p in changed if p in self._known))
        return self._baseline.salted != before.salted

    def _refresh_conventions(self, root: Path) -> bool:
        """Read the workspace's bandit config and detect-secrets baseline again when one of
        their files changed; True if what is hidden may have changed."""
        stamp = tuple(_stamp(root / name) for name in (PYPROJECT, BANDIT_INI,
                                                       DETECT_SECRETS_BASELINE,
                                                       *self._bandit.files))
        if stamp == self._conventions_stamp:
            return False
        bandit = read_bandit_settings(root)
        detect = read_detect_secrets_baseline(root)
        for problem in (*bandit.problems, detect.problem):
            if problem and problem not in (*self._bandit.problems, self._detect.problem):
                log.warning("workspace_config_ignored", workspace=os.fspath(root),
                            problem=problem)
        if bandit.plugin_options != self._bandit.plugin_options:
            # The workers' rules are built with the options: new workers, and every file
            # scanned again (its scan key no longer matches).
            if self._pool is not None:
                self._pool.close()
                self._pool = None
            self._pending.update(dict.fromkeys(self._known))
        changed_files = {name for name in {*detect.accepted, *self._detect.accepted}
                         if detect.for_path(name) != self._detect.for_path(name)}
        self._pending.update(dict.fromkeys(p for p in changed_files if p in self._known))
        before = (self._skips, self._detect.accepted)
        self._bandit, self._detect = bandit, detect
        self._skips = skip_rules(bandit, self._per_path)
        # Re-read while running: stamp the config file a .bandit names too.
        self._conventions_stamp = stamp[:3] + tuple(_stamp(root / n) for n in bandit.files)
        return before != (self._skips, self._detect.accepted)

    def _convention_problems(self) -> list[dict[str, str]]:
        """What the workspace's config files got wrong, one entry per problem and file."""
        named = [*self._bandit.problems, self._detect.problem]
        return [{"path": problem.split(" ", 1)[0], "problem": problem}
                for problem in named if problem]

    def _scan_key(self, accepted: frozenset[str], keys: frozenset[str] = frozenset()) -> str:
        """What a file's findings depend on beside its bytes: bandit's plugin options, the
        secrets the detect-secrets baseline accepts in it and our baseline's keys for it;
        empty for none."""
        options = self._bandit.plugin_options
        if not options and not accepted and not keys:
            return ""
        text = "\0".join([options, *sorted(accepted), "", *sorted(keys)])
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]

    def _hidden(self, finding: Finding, known: _Known) -> Hidden | None:
        hidden = self._skips.hidden(finding.rule, finding.path)
        if hidden is None and finding.fingerprint in known.accepted:
            hidden = Hidden(SOURCE_DETECT_SECRETS, DETECT_SECRETS_BASELINE)
        return hidden

    def _skipped(self, path: str, skip: Skip, skipped: Counter[str],
                 problems: list[dict[str, str]], touched: list[str], gone: list[str],
                 failures: list[FileFailure]) -> None:
        if skip.reason == "missing":
            gone.append(path)
            return
        skipped[skip.reason] += 1
        if skip.transient:
            failures.append(FileFailure(path, "transient", skip.detail))
        if skip.reason in ("too_large", "error"):
            detail = skip.detail or (f"{skip.size} bytes, above the {self._max_file_bytes} "
                                     "bytes cap" if skip.reason == "too_large" else "")
            if detail:
                problems.append({"path": path, "problem": detail})
            return  # cannot tell what it holds now: its findings stay as they were
        if self._known.get(path) != _NOTHING:  # binary, a link, a device: nothing to report
            self._known[path] = _NOTHING
            self._save(path)
        touched.append(path)

    def _scan(self, tasks: list[FileTask], digests: list[str], started: float,
              problems: list[dict[str, str]], touched: list[str], skipped: Counter[str],
              gone: list[str], failures: list[FileFailure]
              ) -> tuple[int, list[dict[str, str]], list[str], int, int]:
        if not tasks:
            return 0, [], [], 0, 0
        pool = self._ensure_pool()
        stop_at = None if self._budget_s is None else started + self._budget_s
        done: set[int] = set()
        failed: set[int] = set()
        errors: list[dict[str, str]] = []
        python_files = rule_errors = 0
        outcome: Outcome[Any]
        for index, outcome in pool.run(tasks, stop_at=stop_at):
            done.add(index)
            task = tasks[index]
            report = outcome.value
            if outcome.ok and isinstance(report, FileReport) and report.skipped is not None:
                failed.add(index)  # not scanned after all: it changed under us
                self._skipped(task.path, report.skipped, skipped, problems, touched, gone,
                              failures)
            elif outcome.ok and isinstance(report, FileReport):
                self._known[task.path] = _Known(
                    report.digest, report.findings, frozenset(report.accepted),
                    self._scan_key(self._detect.for_path(task.path),
                                   self._baseline.keys_for(task.path)),
                    frozenset(report.baselined))
                self._failed.pop(task.path, None)
                self._save(task.path)  # the checkpoint: a restart need not scan it again
                touched.append(task.path)
                python_files += report.python_scanned
                rule_errors += report.rule_errors
                problems += [{"path": task.path, "problem": p} for p in report.problems]
            else:
                # A late or crashed file keeps the findings it had; its bytes are not retried.
                self._failed[task.path] = digests[index]
                self._save(task.path)
                failed.add(index)
                error = outcome.error or "no report"
                errors.append({"path": task.path, "kind": outcome.kind, "error": error})
                failures.append(FileFailure(
                    task.path, "timeout" if outcome.kind == "timeout" else "crash", error))
        deferred = [task.path for i, task in enumerate(tasks) if i not in done]
        scanned = sum(1 for i in done if i not in failed)
        return scanned, errors, deferred, python_files, rule_errors

    def _ensure_pool(self) -> WorkerPool:
        if self._pool is None:
            setup = WorkerSetup(self._load_salt(), self._bandit.plugin_options)
            self._pool = WorkerPool(make_file_scanner, setup,
                                    processes=self._processes, timeout_s=self._file_timeout_s)
            if self._interrupted.is_set():  # interrupt() ran before there was a pool to stop
                self._pool.interrupt()
        return self._pool

    def _report(self, touched: Iterable[str], gone: Iterable[str], *, everything: bool
                ) -> tuple[list[Finding], list[str], int, Counter[tuple[str, str, str]]]:
        paths = list(dict.fromkeys([*touched, *(self._known if everything else ())]))
        findings: list[Finding] = []
        resolved: list[str] = []
        baselined = 0
        hidden: Counter[tuple[str, str, str]] = Counter()  # (rule, source, detail)
        for path in paths:
            known = self._known.get(path)
            if known is None:
                continue
            visible = []
            for finding in known.findings:
                why = self._hidden(finding, known)
                if why is not None:
                    hidden[(finding.rule, why.source, why.detail)] += 1
                elif (finding.fingerprint in known.baselined
                      or finding.fingerprint in self._baseline.salted):
                    baselined += 1
                else:
                    visible.append(finding)
            shown = frozenset(f.fingerprint for f in visible)
            before = self._reported.get(path, frozenset())
            resolved += sorted(before - shown)
            self._reported[path] = shown
            if shown != before:
                self._save(path)
            findings += visible
        for path in dict.fromkeys(gone):
            self._known.pop(path, None)
            self._failed.pop(path, None)
            resolved += sorted(self._reported.pop(path, frozenset()))
            self._save(path)
        return findings, resolved, baselined, hidden

    def _result(self, findings: list[Finding], resolved: list[str], baselined: int,
                hidden: Counter[tuple[str, str, str]], *, full: bool, scanned: int,
                cached: int, skipped: Counter[str], errors: list[dict[str, str]],
                problems: list[dict[str, str]], deferred: int, python_files: int,
                rule_errors: int, salt: bytes,
                failures: Sequence[FileFailure], unmatched: bool) -> AnalysisResult:
        by_severity = Counter(f.severity for f in findings)
        timeouts = sum(1 for e in errors if e["kind"] == "timeout")
        count = len(findings)
        summary = f"{count} {'vulnerability' if count == 1 else 'vulnerabilities'}"
        if timeouts:
            summary += f", {timeouts} file{'s' if timeouts != 1 else ''} timed out"
        if errors and len(errors) > timeouts:
            crashed = len(errors) - timeouts
            summary += f", {crashed} file{'s' if crashed != 1 else ''} failed"
        if deferred:
            summary += f", {deferred} deferred"
        hidden_total = sum(hidden.values())
        if hidden_total:
            summary += f", {hidden_total} skipped by configuration"
        data: dict[str, Any] = {
            "files_scanned": scanned,
            "files_cached": cached,
            "files_skipped": dict(sorted(skipped.items())),
            "python_files": python_files,
            "findings": count,
            "findings_by_severity": {s: by_severity[s] for s in SEVERITIES
                                     if by_severity[s]},
            "resolved": len(resolved),
            "open_findings": sum(len(v) for v in self._reported.values()),
            "baselined": baselined,
            # Over the files this call reported on (all of them in a full pass).
            "full_pass": full,
            "skipped_by_configuration": [
                {"rule": rule, "source": source, "detail": detail, "findings": count}
                for (rule, source, detail), count in sorted(
                    hidden.items(), key=lambda item: (-item[1], item[0]))],
            "timeouts": timeouts,
            "errors": len(errors),
            "error_files": _listed(errors),
            "problems": len(problems),
            "problem_files": _listed(problems),
            "rule_errors": rule_errors,
            "deferred": deferred,
            "workers": self._pool.size if self._pool is not None else 0,
            "worker_restarts": self._pool.restarts if self._pool is not None else 0,
            "salt_id": salt_id(salt),
            "result_cache": os.fspath(self._cache.path) if self._cache is not None else None,
        }
        baseline = self._baseline
        if baseline.path is not None and (baseline.entries or baseline.problem):
            matched = self._baseline_matched()
            problem = baseline.problem
            if not problem and unmatched and baseline.entries and not matched and findings:
                # On a full pass nothing is left unlooked-at: every entry had its chance.
                problem = (f"none of the {len(baseline.entries)} entries of {baseline.path} "
                           f"matched any of the {count} findings: it was made for other "
                           "files (another workspace?), or by an older realworld; "
                           f"{UPDATE_HINT}")
                if self._baseline_warned != problem:
                    log.warning("baseline_unmatched", problem=problem)
                self._baseline_warned = problem
            data["baseline"] = {"path": str(baseline.path), "version": baseline.version,
                                "entries": len(baseline.entries), "matched": matched,
                                "problem": problem, "notice": baseline.notice}
        conventions = self._conventions_data()
        if conventions:
            data["workspace_config"] = conventions
        return AnalysisResult(summary=summary, data=data, findings=tuple(findings),
                              resolved=tuple(resolved), failures=tuple(failures),
                              remaining=deferred)

    def _baseline_matched(self) -> int:
        """Entries that match a finding of the workspace as last scanned (one each: a key
        includes the finding's occurrence among equal ones)."""
        salted = self._baseline.salted
        return sum(len(known.baselined) + (sum(1 for f in known.findings
                                               if f.fingerprint in salted) if salted else 0)
                   for known in self._known.values())

    def _conventions_data(self) -> dict[str, Any]:
        """Which of the workspace's files are applied, and what of them was not."""
        data: dict[str, Any] = {}
        if self._bandit.configured:
            data["bandit"] = {"source": self._bandit.source,
                              "tests": sorted(self._bandit.tests),
                              "skips": sorted(self._bandit.skips),
                              "exclude_dirs": list(self._bandit.exclude),
                              "plugin_options": bool(self._bandit.plugin_options)}
        if self._detect.path is not None:
            data["detect_secrets_baseline"] = {"path": DETECT_SECRETS_BASELINE,
                                               "entries": self._detect.entries}
        if self._skips.path_skips:
            data["per_path_skips"] = {s.pattern: sorted(s.rules)
                                      for s in self._skips.path_skips}
            data["per_path_skips_source"] = self._skips.path_skips[0].source
        problems = [p for p in (*self._bandit.problems, self._detect.problem) if p]
        if problems:
            data["problems"] = problems
        return data


_NOTHING = _Known("", ())


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_mtime_ns, info.st_size


def _restore(entry: Entry) -> tuple[_Known | None, frozenset[str], str | None] | None:
    """A cached row back as (what was found, what was reported, bytes that failed)."""
    payload = entry.payload
    known: _Known | None = None
    if "findings" in payload:
        findings = findings_from_data(payload["findings"])
        if findings is None:
            return None
        accepted = strings_from_data(payload.get("accepted", []))
        baselined = strings_from_data(payload.get("baselined", []))
        scan_key = payload.get("scan_key", "")
        if accepted is None or baselined is None or not isinstance(scan_key, str):
            return None
        known = _Known(entry.digest, findings, accepted, scan_key, baselined)
    reported = strings_from_data(payload.get("reported", []))
    failed = payload.get("failed")
    if reported is None or not (failed is None or isinstance(failed, str)):
        return None
    return known, reported, failed


def _listed(entries: Sequence[dict[str, str]]) -> list[dict[str, str]]:
    """The first :data:`MAX_LISTED` entries, their messages clipped (a path stays whole:
    a reader matches it)."""
    return [{key: value if key == "path" else _clip(value) for key, value in entry.items()}
            for entry in entries[:MAX_LISTED]]


def _clip(text: str) -> str:
    return text if len(text) <= MAX_LISTED_CHARS else text[:MAX_LISTED_CHARS - 1] + "…"
