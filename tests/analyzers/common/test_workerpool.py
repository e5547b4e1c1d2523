"""The worker pool with real processes: a crashing or hanging task costs only itself, idle
workers exit and come back, workers end with the pool."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable

import pytest

from analyzers.common.workerpool import WorkerPool, worker_label


def _make_handler(argument: str) -> Callable[[str], str]:
    def handle(task: str) -> str:
        if task == "crash":
            os.kill(os.getpid(), signal.SIGKILL)
        if task == "hang":
            time.sleep(60)
        if task == "raise":
            raise KeyError("the task's data must not appear in the error")
        return f"{argument}:{task}"
    return handle


def make_handler(argument: str) -> Callable[[str], str]:
    return _make_handler(argument)


def test_a_crashing_or_hanging_task_costs_only_itself() -> None:
    pool = WorkerPool(make_handler, "w", processes=2, timeout_s=2.0)
    try:
        tasks = ["a", "crash", "b", "hang", "raise", "c"]
        outcomes = dict(pool.run(tasks))
        assert {tasks[i]: o.kind for i, o in outcomes.items()} == {
            "a": "ok", "b": "ok", "c": "ok", "crash": "crashed", "hang": "timeout",
            "raise": "error"}
        assert outcomes[0].value == "w:a"
        assert outcomes[1].error == "the worker died of signal 9"
        assert outcomes[4].error == "KeyError"
        assert pool.restarts == 2
        assert dict(pool.run(["d"]))[0].value == "w:d"  # the pool goes on
    finally:
        pool.close()


def test_idle_workers_exit_and_come_back() -> None:
    pool = WorkerPool(make_handler, "w", processes=1, timeout_s=5.0, idle_exit_s=0.5)
    try:
        assert dict(pool.run(["a"]))[0].value == "w:a"
        (pid,) = pool.pids()
        deadline = time.monotonic() + 30
        while pool.pids() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert pool.pids() == ()
        assert dict(pool.run(["b"]))[0].value == "w:b"
        assert pool.pids() != (pid,) and pool.restarts == 0
    finally:
        pool.close()


def test_workers_end_with_the_pool() -> None:
    pool = WorkerPool(make_handler, "w", processes=2, timeout_s=5.0)
    list(pool.run(["a", "b"]))
    pids = pool.pids()
    assert len(pids) == 2
    pool.close()
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_a_worker_s_command_line_names_its_pool_s_initializer() -> None:
    import psutil

    pool = WorkerPool(make_handler, "w", processes=1, timeout_s=5.0)
    try:
        list(pool.run(["a"]))
        (pid,) = pool.pids()
        command = psutil.Process(pid).cmdline()
    finally:
        pool.close()
    assert command[-1] == worker_label(make_handler) == f"{__name__}:make_handler"


class _SlowToTearDown:
    """Like jedi's inference state: tearing it down at interpreter exit takes long."""

    def __call__(self, task: str) -> str:
        return task

    def __del__(self) -> None:
        time.sleep(3)


_KEPT: list[_SlowToTearDown] = []


def make_slow_to_tear_down(argument: str) -> Callable[[str], str]:
    handler = _SlowToTearDown()
    _KEPT.append(handler)  # alive until the interpreter's own teardown
    return handler


def test_close_does_not_wait_for_a_worker_to_tear_its_state_down() -> None:
    pool = WorkerPool(make_slow_to_tear_down, "w", processes=1, timeout_s=5.0)
    assert dict(pool.run(["a"]))[0].value == "a"
    started = time.monotonic()
    pool.close()
    # A worker stopped with a plain interpreter exit sleeps 3 s in __del__ (and close
    # kills it after 2 s); os._exit after serving leaves at once.
    assert time.monotonic() - started < 1.0
