"""The CPU a call's worker processes spent for it, charged to the thread that made the call.

A measured call runs on one thread; the CPU of that thread is read from its own clock,
but what it hands to worker processes (:mod:`analyzers.common.workerpool`) is spent
elsewhere. A worker reports its process CPU with every answer, and the pool charges what
was spent since its previous report to the account open on the thread reading the answer:
the thread of the call that used the worker. Charging by thread rather than by summing
every child's CPU keeps two calls running at once (each with its own pool) apart.
"""

from __future__ import annotations

import threading


class CpuAccount:
    """CPU seconds charged by worker processes during one call; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seconds = 0.0

    def charge(self, seconds: float) -> None:
        if seconds > 0:
            with self._lock:
                self._seconds += seconds

    @property
    def seconds(self) -> float:
        with self._lock:
            return self._seconds


_local = threading.local()


def open_account() -> CpuAccount:
    """A fresh account, open on the calling thread until :func:`close_account`."""
    account = CpuAccount()
    _local.account = account
    return account


def close_account(account: CpuAccount) -> None:
    """Stop charging ``account`` on this thread (a no-op on any other thread)."""
    if getattr(_local, "account", None) is account:
        _local.account = None


def current() -> CpuAccount | None:
    """The account open on this thread, if any."""
    account: CpuAccount | None = getattr(_local, "account", None)
    return account


def charge(seconds: float) -> None:
    """Charge worker CPU to the account open on this thread, if any."""
    account = current()
    if account is not None:
        account.charge(seconds)
