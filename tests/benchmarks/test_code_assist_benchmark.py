"""Code assistance benchmark on the standard library: does jedi agree with the code index?

Run on demand only (marked ``benchmark``)::

    REALWORLD_BENCHMARKS=1 pytest tests/benchmarks/test_code_assist_benchmark.py -s

Corpus: a seeded subset of the running interpreter's standard library (``sysconfig``'s
``stdlib``): 120 top-level modules and a few packages whose modules import each other,
copied into ``tmp_path`` (the real one is never touched, and jedi resolves imports in
the copy first). The code indexer builds its index of the copy; then one call of
:class:`CodeAssistant` asks jedi, in its worker process, at up to 3 positions of each
kind in each of 30 files (sampled as a session samples them), with no budget, and a
per-file bound far above what any file needs.

* **definition agreement**: the fraction of go-to-definition answers that land on a
  definition the index records for that name (or, for a name bound to a module, on a
  file the index holds). Aim: at least 90 % over at least 50 positions.
* Printed beside it: agreement of references and completions, p50/p95 latency of each
  kind of request (in the worker, jedi's own time), and the files jedi failed on.
"""

from __future__ import annotations

import random
import shutil
import sys
import sysconfig
import time
from pathlib import Path

import pytest

from analyzers.base import FULL_PASS
from analyzers.code_assist.assistant import CodeAssistant
from analyzers.code_index.indexer import CodeIndexer

SEED = 20261207
MODULES = 120
PACKAGES = ("json", "email", "collections", "importlib", "concurrent", "http", "urllib",
            "logging")
FILES = 30
POSITIONS = 3
MIN_DEFINITIONS = 50
DEFINITION_AIM = 0.90

pytestmark = pytest.mark.benchmark


def copy_subset(destination: Path) -> Path:
    source = Path(sysconfig.get_paths()["stdlib"])
    modules = sorted(p for p in source.glob("*.py") if not p.name.startswith("test"))
    destination.mkdir(parents=True)
    for path in random.Random(SEED).sample(modules, min(MODULES, len(modules))):
        shutil.copy2(path, destination / path.name)
    for package in PACKAGES:
        if (source / package).is_dir():
            shutil.copytree(source / package, destination / package,
                            ignore=shutil.ignore_patterns("__pycache__", "test", "tests"))
    return destination


def test_jedi_agrees_with_the_index_on_the_standard_library(tmp_path: Path) -> None:
    root = copy_subset(tmp_path / "stdlib")
    index_path = tmp_path / "state" / "bench.index.db"
    indexer = CodeIndexer(index_path=index_path, time_budget_s=3600)
    try:
        indexed = indexer.analyze(root, FULL_PASS)
    finally:
        indexer.close()
    assistant = CodeAssistant(index_path=index_path, cache_path=tmp_path / "state" / "jedi",
                              files_per_pass=FILES, positions_per_file=POSITIONS,
                              budget_s=None, file_timeout_s=120.0, seed=SEED)
    try:
        started = time.perf_counter()
        result = assistant.analyze(root, FULL_PASS)
        seconds = time.perf_counter() - started
    finally:
        assistant.close()
    data = result.data
    print(f"\ncorpus: {sysconfig.get_paths()['stdlib']} (a subset, copied), "
          f"Python {sys.version.split()[0]}; index: {indexed.summary}")
    print(f"code assistance: {seconds:.1f} s for {data['files']} files ({result.summary})")
    for kind in ("definition", "references", "completion"):
        latency = data["latency_ms"][kind]
        agreement = data["agreement"][kind]
        shown = "n/a" if agreement is None else f"{agreement * 100:.1f}%"
        times = "no latency" if latency["p50"] is None else (
            f"p50 {latency['p50']:.1f} ms, p95 {latency['p95']:.1f} ms")
        print(f"  {kind:<11} {data['requests'][kind]:>3} requests, {data['right'][kind]:>3} "
              f"right ({shown}); {times}")
    print(f"  accuracy {data['accuracy'] * 100:.1f}%; skipped {data['skipped']}")
    # A file jedi fails on is a finding of the measure, not of the benchmark (jedi 0.20.1
    # raises ValueError on references in importlib/metadata/__init__.py): a session
    # quarantines it, and its answers are simply not counted here.
    for failure in result.failures:
        print(f"  jedi failed on {failure.path}: {failure.kind}, {failure.error}")
    assert data["judged"]["definition"] >= MIN_DEFINITIONS
    assert data["agreement"]["definition"] >= DEFINITION_AIM
