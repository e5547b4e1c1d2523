"""What a read model is: pure functions of (state, recorded event) to row changes.

A projection never touches SQLite. It reads the rows it depends on through a
:class:`State` and returns :class:`Put`, :class:`Delete` and :class:`Append`
changes; the projector applies them, so the same rules serve a live catch-up,
a full replay and a unit test with a dict. Each read model is a module of this
package; :mod:`daemon.projections.catalog` lists them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from daemon.log.events import Event, Recorded

Row = dict[str, Any]
Key = tuple[Any, ...]


@dataclass(frozen=True)
class Put:
    """Make the row with this key exactly ``row`` (insert or overwrite)."""

    table: str
    key: Key
    row: Mapping[str, Any]


@dataclass(frozen=True)
class Delete:
    table: str
    key: Key


@dataclass(frozen=True)
class Append:
    """Insert a row that no later event changes (an activity, a metric sample)."""

    table: str
    row: Mapping[str, Any]


Change = Put | Delete | Append


class State(Protocol):
    def get(self, table: str, key: Key) -> Mapping[str, Any] | None: ...


Handler = Callable[[Recorded, State], Sequence[Change]]
#: The changes of handling each event of a run in turn, given the state before the first.
Fold = Callable[[Sequence[Recorded], State], Sequence[Change]]


@dataclass(frozen=True)
class Projection:
    name: str
    tables: tuple[str, ...]
    handlers: Mapping[type[Event], Handler]
    #: For event types whose consecutive events (among those this projection handles)
    #: can be handled at once: replay meets runs of thousands of activities per session,
    #: and a fold makes each run one row update instead of one per event. A fold must
    #: read only this projection's own tables: it runs when the run is settled, after
    #: events of other projections that came later in the log.
    folds: Mapping[type[Event], Fold] = field(default_factory=dict)

    def apply(self, recorded: Recorded, state: State) -> Sequence[Change]:
        handler = self.handlers.get(type(recorded.event))
        return handler(recorded, state) if handler is not None else ()


def sql_timestamp(ts: str) -> str:
    """``created_at`` in SQLite's own CURRENT_TIMESTAMP shape, so ``datetime('now')`` compares."""
    return ts[:10] + " " + ts[11:19]
