"""The daemon's shipping to the fleet: one scheduled job that never blocks local work.

Each run ships for at most a few seconds (the next run goes on); a central server that is
down, slow or refusing makes the job back off (doubling up to :data:`MAX_BACKOFF_S`) and say
so in one log line when the reason first appears or changes; the first success after a
failure says that it caught up. Nothing local waits on it: the log is read, never locked.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import structlog

from daemon.fleet.connection import masked
from daemon.fleet.errors import FleetError
from daemon.fleet.shipper import ShipResult, record_failure, ship
from daemon.log.database import Database

log = structlog.get_logger("realworld.ship")

#: Seconds one scheduled run may ship before it leaves the rest to the next run.
RUN_BUDGET_S = 5.0
MAX_BACKOFF_S = 300.0


@dataclass
class ShippingJob:
    db: Database
    url: str
    machine: str | None
    interval: float

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._failure = ""
        self._failures = 0
        self._not_before = 0.0  # monotonic time before which a run does nothing
        self.last: ShipResult | None = None

    def backoff(self) -> float:
        """Seconds the job waits after ``self._failures`` failures in a row."""
        return float(min(MAX_BACKOFF_S, self.interval * 2 ** min(self._failures, 16)))

    def run(self) -> None:
        if not self._lock.acquire(blocking=False):
            return  # a run is still going (a long catch-up); this one is not needed
        try:
            now = time.monotonic()
            if now < self._not_before:
                return
            try:
                result = ship(self.db, self.url, self.machine, deadline=now + RUN_BUDGET_S)
            except (FleetError, OSError) as exc:
                self._failures += 1
                self._not_before = time.monotonic() + self.backoff()
                reason = str(exc)
                if reason != self._failure:
                    log.warning("ship_failed", fleet=masked(self.url), reason=reason,
                                retry_in_s=round(self.backoff(), 1))
                    self._failure = reason
                try:
                    record_failure(self.db, self.url, self.machine or "", reason)
                except Exception as record_exc:  # the local log full or locked: say it once
                    log.debug("ship_failure_not_recorded", reason=str(record_exc))
                return
            if self._failure:
                log.info("ship_caught_up", fleet=masked(self.url), position=result.position,
                         shipped=result.shipped)
            self._failure = ""
            self._failures = 0
            self._not_before = 0.0
            self.last = result
        finally:
            self._lock.release()
