"""Faults the ``error-recovery`` scenario injects into its copy of the project.

* :class:`FaultInjector`: a real analyzer (the protocol of :mod:`analyzers.base`) that
  raises on a file holding :data:`MARKER`, run beside the real ones, so the runner's
  retry, isolation and quarantine are exercised by an exception it did not expect;
* corrupt files the real analyzers must survive (:func:`corrupt_files`);
* a file the security scanner needs a second or two for (:func:`slow_scan_source`), so
  one of its worker processes can be killed with the file in flight
  (:func:`kill_busy_worker`).

Everything is written under :data:`FAULT_DIR` of the copy, never the user's tree.
"""

from __future__ import annotations

import os
import random
import signal
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil

from analyzers.base import AnalysisResult, FileFailure, is_full_pass
from analyzers.common.workerpool import worker_label
from analyzers.security.file_scan import make_file_scanner

FAULT_DIR = "realworld_faults"
#: In a file's bytes, what makes the injector raise (the default mode).
MARKER = "REALWORLD_INJECTED_FAULT"
#: A stubborn injector fails on every file named so, whatever its bytes: an edit cannot
#: cure it, so the scenario must report the fault as not recovered.
POISON_PREFIX = "poison"
INJECTOR_NAME = "fault_injector"
MAX_LISTED = 50
#: How the scanner's workers are told from other children: their bootstrap imports this,
#: and their command line ends with their pool's initializer (the pattern probe's and
#: code assistance's workers run the same bootstrap, and are not the scanner's).
WORKER_SIGNATURE = "analyzers.common.workerpool"
SCANNER_WORKER = worker_label(make_file_scanner)


class InjectedFault(RuntimeError):
    """What the injector raises: an analyzer bug the runner has never seen."""


class FaultInjector:
    """Raises on files under :data:`FAULT_DIR` holding :data:`MARKER` (or, stubborn,
    named ``poison*``); reports them as crashing on a full pass, as an analyzer with
    per-file failures would. Every other file there is "analyzed" (named in the data)."""

    name = INJECTOR_NAME
    activity_type = "fault_injection"

    def __init__(self, *, stubborn: bool = False) -> None:
        self._stubborn = stubborn
        self._excluded: frozenset[str] = frozenset()

    def applies_to(self, path: str) -> bool:
        return path.startswith(f"{FAULT_DIR}/") and path.endswith(".py")

    def exclude(self, paths: frozenset[str]) -> None:
        self._excluded = frozenset(paths)

    def analyze(self, root: Path, paths: Sequence[str]) -> AnalysisResult:
        if is_full_pass(paths):
            return self._full_pass(Path(root))
        for path in paths:
            if self.poisoned(Path(root), path):
                raise InjectedFault(f"injected fault on {path}")
        return AnalysisResult(f"{len(paths)} files", {"analyzed": list(paths)[:MAX_LISTED]})

    def _full_pass(self, root: Path) -> AnalysisResult:
        found = sorted(p.relative_to(root).as_posix() for p in (root / FAULT_DIR).rglob("*.py")
                       if p.is_file()) if (root / FAULT_DIR).is_dir() else []
        present = [p for p in found if p not in self._excluded]
        failures = tuple(FileFailure(p, "crash", f"InjectedFault: injected fault on {p}")
                         for p in present if self.poisoned(root, p))
        failed = {f.path for f in failures}
        analyzed = [p for p in present if p not in failed]
        return AnalysisResult(f"{len(analyzed)} files", {"analyzed": analyzed[:MAX_LISTED]},
                              failures=failures)

    def poisoned(self, root: Path, path: str) -> bool:
        if self._stubborn:
            return Path(path).name.startswith(POISON_PREFIX)
        try:
            return MARKER.encode() in (root / path).read_bytes()
        except OSError:
            return False  # gone or unreadable: nothing to fail on


def poison_source(symbol: str, *, poisoned: bool) -> str:
    """A module the injector fails on while it holds the marker; the fix takes it out."""
    body = f"    return {MARKER!r}\n" if poisoned else "    return 'fixed'\n"
    return f"def {symbol}():\n{body}"


@dataclass(frozen=True)
class CorruptFile:
    path: str
    data: bytes
    what: str


def corrupt_files(seed: int) -> tuple[CorruptFile, ...]:
    """Files that break naive analyzers: each must cost the analyzers nothing but a note."""
    noise = random.Random(seed).randbytes(64 * 1024)
    return (
        CorruptFile(f"{FAULT_DIR}/invalid_utf8.py",
                    b"def broken():\n    return '\xff\xfe\xc3\x28 \x80\x81'\n", "invalid UTF-8"),
        CorruptFile(f"{FAULT_DIR}/blob.py", b"\x00\x01" + noise, "a binary blob named .py"),
        CorruptFile(f"{FAULT_DIR}/truncated.py",
                    b"import os\n\ndef half(value):\n    return [value, os.sep,", "truncated"),
        # The parser itself recurses too deep on this chain (bandit's old RecursionError).
        CorruptFile(f"{FAULT_DIR}/deep.py",
                    b"x = " + b" + ".join([b"1"] * 100_000) + b"\n", "deeply nested"),
    )


def slow_scan_source(functions: int, salt: int) -> str:
    """A valid module bandit needs about a second per 3,000 functions for (kept under the
    pattern probe's 1 MiB cap), ending in one ``shell=True`` call: the scan completed
    when that finding is reported. ``salt`` makes each attempt's bytes new."""
    parts = ["import subprocess\n"]
    parts += [f"\ndef slow_{salt}_{n}(value, other):\n    total = value + other * {n}\n"
              f"    if total > {n}:\n        return [total, value, other]\n"
              f"    return total - {n}\n" for n in range(functions)]
    parts.append("\n\ndef realworld_slow_scan(cmd):\n"
                 "    return subprocess.call(cmd, shell=True)\n")
    return "".join(parts)


def scan_workers(parent: int | None = None) -> list[psutil.Process]:
    """The security scanner's worker processes among ``parent``'s children."""
    try:
        children = psutil.Process(parent if parent is not None else os.getpid()).children()
    except psutil.Error:
        return []
    workers = []
    for child in children:
        try:
            command = child.cmdline()
            if any(WORKER_SIGNATURE in part for part in command) and command[-1:] == [
                    SCANNER_WORKER]:
                workers.append(child)
        except psutil.Error:
            continue  # exited meanwhile
    return workers


def _cpu(process: psutil.Process) -> float:
    try:
        times = process.cpu_times()
        return float(times.user + times.system)
    except psutil.Error:
        return -1.0


def worker_cpu() -> dict[int, float]:
    """CPU seconds used so far by each scan worker: taken before the work is given, so a
    worker's start-up (importing bandit) is not mistaken for it working on the file."""
    return {w.pid: used for w in scan_workers() if (used := _cpu(w)) >= 0}


def kill_busy_worker(before: dict[int, float], timeout_s: float, *, poll_s: float = 0.02,
                     busy_cpu_s: float = 0.05) -> int | None:
    """SIGKILL the first scan worker seen working (its CPU time grew by ``busy_cpu_s``
    since ``before``, or since first seen for one started later: an idle worker waits on
    its socket and uses none); its pid, or None if none got busy within ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    first = dict(before)
    while time.monotonic() < deadline:
        for worker in scan_workers():
            used = _cpu(worker)
            if used < 0:
                continue
            if worker.pid not in first:
                first[worker.pid] = used
            elif used - first[worker.pid] >= busy_cpu_s:
                try:
                    worker.send_signal(signal.SIGKILL)
                except psutil.Error:
                    continue
                return worker.pid
        time.sleep(poll_s)
    return None
