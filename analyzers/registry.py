"""Finding the analyzers: the entry-point group ``realworld.analyzers``, built-ins always included.

Each entry point names a class or a factory (called with the session options its
signature names, see :func:`discover`) or a ready instance. The built-ins are declared as entry
points too, but are also known here so discovery works from a source checkout
where the package is not installed. A third-party entry point that fails to
import, to build, or to look like an :class:`~analyzers.base.Analyzer` is left
out and reported; it never stops discovery.
"""

from __future__ import annotations

import importlib.metadata
import inspect
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass

from analyzers.base import Analyzer

GROUP = "realworld.analyzers"

#: name -> "module:attribute", exactly as the entry points in pyproject.toml declare them.
BUILTINS: Mapping[str, str] = {
    "workspace_analyzer": "analyzers.workspace.analyzer:WorkspaceAnalyzer",
    "code_indexer": "analyzers.code_index.indexer:CodeIndexer",
    "code_search": "analyzers.code_index.search:CodeSearch",
    "security_scanner": "analyzers.security.scanner:SecurityScanner",
    "pattern_probe": "analyzers.patterns.probe:PatternProbe",
    "code_assistant": "analyzers.code_assist.assistant:CodeAssistant",
}


@dataclass(frozen=True)
class DiscoveryError:
    name: str  # the entry point's name
    target: str  # its "module:attribute"
    error: str  # one line for a person


@dataclass(frozen=True)
class Discovery:
    analyzers: tuple[Analyzer, ...]  # built-ins first, then third parties by name
    errors: tuple[DiscoveryError, ...]

    def names(self) -> tuple[str, ...]:
        return tuple(a.name for a in self.analyzers)


def discover(*, group: str = GROUP, builtins: Mapping[str, str] = BUILTINS,
             entry_points: Iterable[importlib.metadata.EntryPoint] | None = None,
             enabled: Collection[str] | None = None,
             options: Mapping[str, object] | None = None) -> Discovery:
    """Every analyzer available; ``enabled`` keeps only those names.

    ``entry_points`` replaces the installed ones (``importlib.metadata``'s group
    lookup) for callers that already hold them. ``options`` are the session's
    context (``log_path``, ``ignore``, ...): each factory receives the keyword
    arguments its signature names, so an analyzer asks only for what it uses.
    """
    declared = list(_installed(group) if entry_points is None else entry_points)
    candidates = [importlib.metadata.EntryPoint(name, target, group)
                  for name, target in builtins.items()]
    # An installed copy of a built-in is the same analyzer, and a distribution found twice
    # on the path (a stale egg-info beside an editable install) declares the same pair.
    unique = {(ep.name, ep.value): ep for ep in declared if builtins.get(ep.name) != ep.value}
    candidates += [unique[key] for key in sorted(unique)]
    analyzers: list[Analyzer] = []
    errors: list[DiscoveryError] = []
    seen: set[str] = set()
    for ep in candidates:
        if enabled is not None and ep.name not in enabled:
            continue
        built = _build(ep, options or {})
        if isinstance(built, DiscoveryError):
            errors.append(built)
            continue
        capability = str(built.name)
        if capability in seen or ep.name in seen:
            errors.append(DiscoveryError(ep.name, ep.value,
                                         f"capability {capability!r} is already provided"))
            continue
        seen.update((capability, ep.name))
        analyzers.append(built)
    return Discovery(tuple(analyzers), tuple(errors))


def _installed(group: str) -> Iterable[importlib.metadata.EntryPoint]:
    try:
        return importlib.metadata.entry_points(group=group)
    except Exception:  # one corrupt distribution's metadata must not hide the built-ins
        return ()


def _accepted(factory: Callable[..., object], options: Mapping[str, object]) -> dict[str, object]:
    try:
        parameters = inspect.signature(factory).parameters.values()
    except (TypeError, ValueError):  # a builtin without a signature takes no options
        return {}
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return dict(options)
    names = {p.name for p in parameters
             if p.kind in (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)}
    return {key: value for key, value in options.items() if key in names}


def _build(ep: importlib.metadata.EntryPoint,
           options: Mapping[str, object]) -> Analyzer | DiscoveryError:
    def fail(message: str) -> DiscoveryError:
        return DiscoveryError(ep.name, ep.value, message)

    try:
        loaded = ep.load()
    except (Exception, SystemExit) as exc:  # an import may raise anything, even SystemExit
        return fail(f"cannot load: {type(exc).__name__}: {exc}")
    try:
        # A class satisfies the protocol structurally too, so test for it before instances.
        if isinstance(loaded, type) or (callable(loaded) and not _is_analyzer(loaded)):
            built = loaded(**_accepted(loaded, options))
        else:
            built = loaded
    except (Exception, SystemExit) as exc:
        return fail(f"cannot build: {type(exc).__name__}: {exc}")
    if not _is_analyzer(built):
        return fail(f"{type(built).__name__} is not an analyzer "
                    "(needs name, activity_type, applies_to(), analyze())")
    assert isinstance(built, Analyzer)
    return built


def _is_analyzer(obj: object) -> bool:
    try:
        name = getattr(obj, "name", None)
        return (isinstance(name, str) and bool(name)
                and isinstance(getattr(obj, "activity_type", None), str)
                and callable(getattr(obj, "applies_to", None))
                and callable(getattr(obj, "analyze", None)))
    except Exception:
        return False
