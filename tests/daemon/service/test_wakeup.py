"""The main thread's one wait: posts from other threads and signals end it, nothing spins."""

from __future__ import annotations

import os
import signal
import threading
import time

from daemon.service.wakeup import WOKEN, Wakeup


def test_a_post_from_another_thread_ends_the_wait() -> None:
    with Wakeup() as wakeup:
        timer = threading.Timer(0.2, wakeup.post, args=(signal.SIGHUP,))
        timer.start()
        started = time.monotonic()
        assert wakeup.wait(10) == [signal.SIGHUP]
        assert time.monotonic() - started < 5
        timer.join()


def test_a_wait_times_out_empty_and_uses_no_cpu() -> None:
    with Wakeup() as wakeup:
        before = time.thread_time()
        assert wakeup.wait(0.5) == []
        assert time.thread_time() - before < 0.05


def test_what_was_posted_before_the_wait_is_not_lost() -> None:
    with Wakeup() as wakeup:
        wakeup.wake()
        wakeup.post(signal.SIGTERM)
        assert wakeup.wait(0) == [WOKEN, signal.SIGTERM]
        assert wakeup.wait(0) == []


def test_signals_arrive_through_the_socket_and_handlers_come_back() -> None:
    before = signal.getsignal(signal.SIGTERM)
    with Wakeup() as wakeup, wakeup.signals((signal.SIGTERM,)) as taken:
        assert taken
        os.kill(os.getpid(), signal.SIGTERM)  # would end the test run without the handler
        assert wakeup.wait(10) == [signal.SIGTERM]
    assert signal.getsignal(signal.SIGTERM) is before


def test_off_the_main_thread_signals_are_left_alone() -> None:
    seen: list[bool] = []

    def worker() -> None:
        with Wakeup() as wakeup, wakeup.signals((signal.SIGTERM,)) as taken:
            seen.append(taken)

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join(5)
    assert seen == [False]
