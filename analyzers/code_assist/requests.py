"""Asking jedi: one file's positions, each request timed, in a worker process.

The handler of :mod:`analyzers.common.workerpool`: it reads the file itself (the analyzer
never holds a batch's contents), refuses bytes other than those the positions were
sampled from (a transient skip: the file changed under us), and asks jedi at each
position. jedi runs in this worker, not in the session's process: a file that sends its
inference into a ``RecursionError`` or past the per-file bound costs the worker, which
the pool replaces, and the runner quarantines the file. Exceptions are left to the pool,
which reports their type only, so one failing request names its file as a crash.

jedi's caches (parso's pickled trees) go to the directory the analyzer names, beside the
code index, never into the workspace. jedi runs on this interpreter
(:class:`jedi.InterpreterEnvironment`): no further subprocess per worker.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from analyzers.code_assist.positions import COMPLETION, DEFINITION, REFERENCES, Position
from analyzers.common.private_files import tighten_umask
from analyzers.common.sourcefile import Skip, decode_text, read_source


@dataclass(frozen=True)
class Place:
    """Where an answer points: ``path`` relative to the workspace, None outside it."""

    path: str | None
    line: int  # 0 when jedi gives none (a builtin module)
    column: int
    kind: str = ""  # jedi's type: "function", "class", "module", "statement", ...


@dataclass(frozen=True)
class Answer:
    position: Position
    ms: float
    places: tuple[Place, ...] = ()  # definitions or references
    contains: bool = False  # completion: the attribute the code uses is among the proposals
    proposals: int = 0  # completion: how many


@dataclass(frozen=True)
class AssistTask:
    path: str  # relative, "/"-separated
    location: str  # where it is on disk
    root: str  # the workspace, resolved: jedi's project
    digest: str  # of the bytes the positions were sampled from
    max_bytes: int
    positions: tuple[Position, ...]


@dataclass(frozen=True)
class FileAnswers:
    path: str
    answers: tuple[Answer, ...]


class Assistant:
    """A worker's handler: one jedi project per workspace, kept warm between files."""

    def __init__(self, cache_directory: str) -> None:
        import jedi  # here: only the workers pay for importing it

        jedi.settings.cache_directory = cache_directory
        self._jedi = jedi
        self._environment = jedi.InterpreterEnvironment()
        self._projects: dict[str, Any] = {}
        # jedi's first inference loads the builtins' stubs (0.3 s with a warm parso cache,
        # 1.2 s without): done here, it is start-up, which the analyzer overlaps with the
        # other analyzers' calls, rather than the first request's time.
        jedi.Script("''.upper", environment=self._environment).complete(1, 7)

    def __call__(self, task: AssistTask) -> FileAnswers | Skip:
        source = read_source(task.location, task.max_bytes)
        if isinstance(source, Skip):
            return source
        if source.content_hash != task.digest:
            return Skip("error", "changed since it was sampled", transient=True)
        text, _ = decode_text(source.data, python=True)
        script = self._jedi.Script(text, path=task.location, project=self._project(task.root),
                                   environment=self._environment)
        return FileAnswers(task.path, tuple(self._ask(script, p, task.root)
                                            for p in task.positions))

    def _project(self, root: str) -> Any:
        project = self._projects.get(root)
        if project is None:
            # The workspace first on the path, so its own modules win over installed ones.
            project = self._jedi.Project(root, added_sys_path=[root])
            self._projects[root] = project
        return project

    def _ask(self, script: Any, position: Position, root: str) -> Answer:
        line, column = position.line, position.column
        started = time.perf_counter()
        if position.kind == DEFINITION:
            found = script.goto(line, column, follow_imports=True)
        elif position.kind == REFERENCES:
            # This file only: a project-wide search reads every file of the workspace, which
            # no per-file bound could hold on a big one.
            found = script.get_references(line, column, scope="file")
        elif position.kind == COMPLETION:
            names = {c.name for c in script.complete(line, column)}
            ms = (time.perf_counter() - started) * 1000.0
            return Answer(position, round(ms, 3), contains=position.name in names,
                          proposals=len(names))
        else:
            raise ValueError(f"unknown request kind {position.kind!r}")
        ms = (time.perf_counter() - started) * 1000.0
        return Answer(position, round(ms, 3), tuple(_place(n, root) for n in found))


def _place(name: Any, root: str) -> Place:
    module = name.module_path
    path: str | None = None
    if module is not None:
        relative = os.path.relpath(os.path.realpath(os.fspath(module)), root)
        if relative != os.pardir and not relative.startswith(os.pardir + os.sep):
            path = relative.replace(os.sep, "/")
    return Place(path, int(name.line or 0), int(name.column or 0), str(name.type or ""))


def make_assistant(cache_directory: str) -> Callable[[AssistTask], FileAnswers | Skip]:
    """The worker pool's initializer: importable at module level, so picklable."""
    # jedi and parso write their cache files with the umask's mode; in our own worker
    # process the umask is ours to tighten, so they are private like every file we write.
    tighten_umask()
    return Assistant(cache_directory)
