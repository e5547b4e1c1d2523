"""Which paths of a workspace the daemon ignores: one list for the watcher and the scanners.

A path is ignored when any of these hold, checked in this order:

1. a component of it is ``.git`` (the repository's own data, a worktree's ``.git`` file);
2. it is one of our own database files, or its ``-wal``/``-shm``/``-journal`` sibling
   (only when the database lies inside the workspace: DESIGN.md says nothing is written
   there, but users do point ``--db`` at it);
3. it matches one of the configured extra globs (gitignore syntax, anchored at the root,
   never re-included by a ``.gitignore``);
4. the ``.gitignore`` files say so, with git's precedence: the ``.gitignore`` nearest to the
   path decides first, then its parents up to the workspace root, then
   ``.git/info/exclude``; within one file the last matching line wins;
5. an ancestor directory is ignored: as in git, a file inside an ignored directory cannot
   be re-included (``build/`` then ``!build/keep`` keeps ``build/keep`` ignored), while
   ``*`` then ``!*/`` then ``!*.py`` keeps every directory and every ``.py`` file.

Paths are workspace-relative, ``/``-separated, decoded with :func:`os.fsdecode`
(undecodable bytes become lone surrogates, as everywhere in the daemon).

Each line is compiled by pathspec's ``gitignore`` pattern (GitIgnoreBasicPattern) for
its glob syntax; we then test whether it matches the path *itself* — git's semantics —
rather than the path or any of its ancestors, which is what pathspec's regexes answer
and which gets negated directory patterns wrong. ``tests/test_ignore.py`` checks the
result against ``git check-ignore``.

Not honoured: ``core.excludesFile`` (per-user global excludes) and ``.gitignore`` files
above the workspace root when the workspace is a subdirectory of a repository.
"""

from __future__ import annotations

import errno
import os
import re
import stat
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import pathspec

GITIGNORE = ".gitignore"
INFO_EXCLUDE = ".git/info/exclude"
DATABASE_SUFFIXES: tuple[str, ...] = ("", "-wal", "-shm", "-journal")
# A .gitignore larger than this is not a .gitignore; read no more of it.
MAX_RULES_FILE_BYTES = 1 << 20

_PATTERN = pathspec.lookup_pattern("gitignore")
_EXTRA_PROBLEM = "extra glob "


@dataclass(frozen=True)
class Rule:
    """One compiled ``.gitignore`` line; ``matches`` tests the path itself, not its ancestors."""

    text: str
    negated: bool
    dir_only: bool
    regex: re.Pattern[str]

    def matches(self, path: str, is_dir: bool) -> bool:
        if self.dir_only and not is_dir:
            return False
        return self.regex.search(path) is not None


def _strip_trailing_spaces(text: str) -> str:
    # git: trailing spaces are ignored unless quoted with a backslash.
    while text.endswith(" ") and not text.endswith("\\ "):
        text = text[:-1]
    return text


def compile_rule(line: str) -> Rule | None:
    """Compile one line; ``None`` for blanks and comments. Raises ``ValueError`` if invalid."""
    text = _strip_trailing_spaces(line.rstrip("\r"))
    if not text or text.startswith("#"):
        return None
    body = text
    dir_only = body.endswith("/")
    if dir_only:
        body = body.rstrip("/")
        if body in ("", "!"):
            return None  # "/" alone: git matches nothing with it
    # "dir/**" means everything inside dir, which is exactly "dir/**/*"; the rewrite
    # gives pathspec a pattern whose regex has no "and anything below" tail.
    if body.endswith("/**"):
        body += "/*"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # re's FutureWarning on "[[" in character classes
        try:
            compiled = _PATTERN(body)
        except Exception as exc:  # pathspec raises several types for malformed globs
            raise ValueError(f"invalid pattern {line!r}: {exc}") from exc
        pattern_regex = getattr(compiled, "regex", None)
        if compiled.include is None or not isinstance(pattern_regex, re.Pattern):
            return None
        # Anchor the end: the regex must match the whole path, not a prefix that is an
        # ancestor directory of it.
        regex = re.compile(f"(?:{pattern_regex.pattern})$")
    return Rule(text=text, negated=not compiled.include, dir_only=dir_only, regex=regex)


def compile_rules(lines: Iterable[str]) -> tuple[tuple[Rule, ...], tuple[str, ...]]:
    """Compile lines; return the rules and a message per line that could not be compiled."""
    rules: list[Rule] = []
    problems: list[str] = []
    for number, line in enumerate(lines, start=1):
        try:
            rule = compile_rule(line)
        except ValueError as exc:
            problems.append(f"line {number}: {exc}")
            continue
        if rule is not None:
            rules.append(rule)
    return tuple(rules), tuple(problems)


def decide(rules: tuple[Rule, ...], path: str, is_dir: bool) -> bool | None:
    """The last rule matching ``path`` decides: ignored (True), kept (False), or silent (None)."""
    for rule in reversed(rules):
        if rule.matches(path, is_dir):
            return not rule.negated
    return None


def read_rules_file(path: str) -> tuple[list[str], str | None]:
    """Lines of a rules file and a problem message; a missing file is empty and no problem.

    Never follows a symlink and never opens anything but a regular file (a FIFO named
    ``.gitignore`` would block a plain ``open``).
    """
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    flags |= getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        return [], None
    except OSError as exc:
        if exc.errno in (errno.ENOTDIR, errno.ENOENT):
            return [], None
        return [], f"cannot open: {exc.strerror or exc}"
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return [], "not a regular file"
        data = os.read(fd, MAX_RULES_FILE_BYTES)
    except OSError as exc:
        return [], f"cannot read: {exc.strerror or exc}"
    finally:
        os.close(fd)
    text = data.decode("utf-8", "surrogateescape").removeprefix("\ufeff")
    return text.split("\n"), None


def normalize(relative_path: str) -> str:
    """``./a//b/`` -> ``a/b``; the root is ``""``."""
    parts = [p for p in relative_path.replace(os.sep, "/").split("/") if p not in ("", ".")]
    return "/".join(parts)


def _parent(path: str) -> str:
    slash = path.rfind("/")
    return path[:slash] if slash >= 0 else ""


def _protected_paths(root: str, database_paths: Iterable[str | os.PathLike[str]]) -> frozenset[str]:
    protected: set[str] = set()
    for db in database_paths:
        real = os.path.realpath(os.fspath(db))
        for base in {real, os.path.abspath(os.fspath(db))}:
            try:
                rel = os.path.relpath(base, root)
            except ValueError:  # another drive on Windows
                continue
            if rel == os.pardir or rel.startswith(os.pardir + os.sep) or os.path.isabs(rel):
                continue
            rel = normalize(rel)
            protected.update(rel + suffix for suffix in DATABASE_SUFFIXES)
    return frozenset(protected)


@dataclass(frozen=True)
class IgnoreRules:
    """The workspace's ignore rules; immutable, so reloads return a new instance."""

    root: str
    levels: Mapping[str, tuple[Rule, ...]]  # directory ("" = root) -> rules of its .gitignore
    info_exclude: tuple[Rule, ...] = ()
    extra: tuple[Rule, ...] = ()
    protected: frozenset[str] = frozenset()
    problems: tuple[str, ...] = ()  # unreadable .gitignore files, invalid lines
    extra_globs: tuple[str, ...] = ()
    # directory -> ignored?; filled lazily, private to this instance.
    _dir_cache: dict[str, bool] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def load(
        cls,
        root: str | os.PathLike[str],
        *,
        database_paths: Iterable[str | os.PathLike[str]] = (),
        extra_globs: Iterable[str] = (),
    ) -> IgnoreRules:
        """Read every ``.gitignore`` of the workspace (skipping ignored directories)."""
        real_root = os.path.realpath(os.fspath(root))
        globs = tuple(extra_globs)
        extra, extra_problems = compile_rules(globs)
        rules = cls(
            root=real_root,
            levels={},
            extra=extra,
            protected=_protected_paths(real_root, database_paths),
            problems=tuple(f"{_EXTRA_PROBLEM}{p}" for p in extra_problems),
            extra_globs=globs,
        )
        rules = rules._with_info_exclude()
        return rules._with_all_gitignores()

    # --- queries ---------------------------------------------------------------

    def is_ignored(self, relative_path: str, is_dir: bool = False) -> bool:
        """Whether the watcher and the scanners skip this workspace-relative path."""
        path = normalize(relative_path)
        if not path:
            return False
        if self._dir_ignored(_parent(path)):
            return True
        return self._item_ignored(path, is_dir)

    @staticmethod
    def is_rules_file(relative_path: str) -> bool:
        """Whether a change to this path changes the rules (a ``.gitignore`` or info/exclude)."""
        path = normalize(relative_path)
        return path == INFO_EXCLUDE or path.rsplit("/", 1)[-1] == GITIGNORE

    # --- reloading -------------------------------------------------------------

    def reload(self) -> IgnoreRules:
        """Everything read again from disk (call after many rule files changed)."""
        kept = tuple(p for p in self.problems if p.startswith(_EXTRA_PROBLEM))
        return self._copy(levels={}, problems=kept)._with_info_exclude()._with_all_gitignores()

    def reload_file(self, relative_path: str) -> IgnoreRules:
        """The rules with one rules file read again (created, changed or deleted)."""
        path = normalize(relative_path)
        if path == INFO_EXCLUDE:
            return self._with_info_exclude()
        if path.rsplit("/", 1)[-1] != GITIGNORE:
            return self
        directory = _parent(path)
        levels = dict(self.levels)
        rules, problems = self._read_level(directory)
        if rules:
            levels[directory] = rules
        else:
            levels.pop(directory, None)
        kept = tuple(p for p in self.problems if not p.startswith(self._source(directory) + ":"))
        return self._copy(levels=levels, problems=kept + problems)

    # --- internals -------------------------------------------------------------

    def _copy(self, **changes: object) -> IgnoreRules:
        values: dict[str, object] = {
            "root": self.root,
            "levels": self.levels,
            "info_exclude": self.info_exclude,
            "extra": self.extra,
            "protected": self.protected,
            "problems": self.problems,
            "extra_globs": self.extra_globs,
        }
        values.update(changes)
        return IgnoreRules(**values)  # type: ignore[arg-type]

    def _source(self, directory: str) -> str:
        return (directory + "/" + GITIGNORE) if directory else GITIGNORE

    def _read_level(self, directory: str) -> tuple[tuple[Rule, ...], tuple[str, ...]]:
        source = self._source(directory)
        lines, problem = read_rules_file(os.path.join(self.root, *source.split("/")))
        rules, line_problems = compile_rules(lines)
        problems = tuple(f"{source}: {p}" for p in line_problems)
        if problem is not None:
            problems = (f"{source}: {problem}", *problems)
        return rules, problems

    def _with_info_exclude(self) -> IgnoreRules:
        lines, problem = read_rules_file(os.path.join(self.root, ".git", "info", "exclude"))
        rules, line_problems = compile_rules(lines)
        kept = tuple(p for p in self.problems if not p.startswith(INFO_EXCLUDE + ":"))
        problems = tuple(f"{INFO_EXCLUDE}: {p}" for p in line_problems)
        if problem is not None:
            problems = (f"{INFO_EXCLUDE}: {problem}", *problems)
        return self._copy(info_exclude=rules, problems=kept + problems)

    def _with_all_gitignores(self) -> IgnoreRules:
        """Walk the tree top-down, reading each .gitignore before judging its subdirectories."""
        levels: dict[str, tuple[Rule, ...]] = {}
        problems: list[str] = list(self.problems)
        current = self._copy(levels=levels)  # sees levels as they are filled in
        stack = [""]
        while stack:
            directory = stack.pop()
            rules, level_problems = current._read_level(directory)
            problems.extend(level_problems)
            if rules:
                levels[directory] = rules
                current._dir_cache.clear()
            absolute = os.path.join(self.root, *directory.split("/")) if directory else self.root
            try:
                with os.scandir(absolute) as entries:
                    children = [e.name for e in entries if e.is_dir(follow_symlinks=False)]
            except OSError:
                continue  # unreadable or vanished: the scanner reports it
            for name in sorted(children, reverse=True):
                child = f"{directory}/{name}" if directory else name
                if not current._item_ignored(child, True):
                    stack.append(child)
        return self._copy(levels=dict(levels), problems=tuple(problems))

    def _dir_ignored(self, directory: str) -> bool:
        """Whether a directory or any of its ancestors is ignored (cached)."""
        if not directory:
            return False
        cached = self._dir_cache.get(directory)
        if cached is None:
            cached = self._dir_ignored(_parent(directory)) or self._item_ignored(directory, True)
            self._dir_cache[directory] = cached
        return cached

    def _item_ignored(self, path: str, is_dir: bool) -> bool:
        """The rules for this path itself, assuming no ancestor is ignored."""
        name = path.rsplit("/", 1)[-1]
        if name == ".git" or path in self.protected:
            return True
        if decide(self.extra, path, is_dir):
            return True
        directory = _parent(path)
        while True:
            rules = self.levels.get(directory)
            if rules is not None:
                sub = path[len(directory) + 1:] if directory else path
                verdict = decide(rules, sub, is_dir)
                if verdict is not None:
                    return verdict
            if not directory:
                break
            directory = _parent(directory)
        return decide(self.info_exclude, path, is_dir) is True
