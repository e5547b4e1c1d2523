"""realworld: watch a workspace, run real analyzers on every change, keep every fact."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from daemon.version import __version__

__all__ = ["RealWorldTester", "__version__"]

if TYPE_CHECKING:
    from daemon.app.tester import RealWorldTester


def __getattr__(name: str) -> Any:
    # Lazy, so `realworld query` does not pay for the scheduler and watchdog imports.
    if name == "RealWorldTester":
        from daemon.app.tester import RealWorldTester

        return RealWorldTester
    raise AttributeError(f"module 'daemon' has no attribute {name!r}")
