"""structlog, configured once from the entry point: JSON lines for journald, colour on a TTY.

Under systemd (``$JOURNAL_STREAM`` names the stream we write to) each line starts with its
syslog priority, ``<4>`` for a warning (sd-daemon(3)), so ``journalctl -p warning`` finds
it. ``$NO_COLOR`` (no-color.org) turns colour off on a terminal too. Every line carries the
``logger`` that wrote it.

Every line passes :func:`mask_secret_values` last, whoever wrote it (our events, a
library's records, a traceback): an error message may quote a file's content, and a
log line is a file we write like any other (invariant 10).
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any, TextIO

import structlog

from analyzers.common.secrets.redact import mask_secrets

LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING,
          "error": logging.ERROR}
#: syslog priorities (sd-daemon(3) prefixes) of the level names structlog writes.
JOURNAL_PRIORITIES = {"debug": 7, "info": 6, "warning": 4, "error": 3, "critical": 2,
                      "exception": 3}


class SkippedOverlapFilter(logging.Filter):
    """Drops APScheduler's warning that a run was skipped because the last one is still going.

    Our periodic jobs (projection catch-up, resource samples) are ``max_instances=1`` on
    purpose: a catch-up that outlasts its interval (a first pass writes thousands of
    findings) simply makes the next one unnecessary. Logged as a warning, it would read as
    a fault on every long pass; APScheduler's other warnings (misfires) still get through.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return "maximum number of running instances reached" not in record.getMessage()


def mask_secret_values(logger: object, method: str, event_dict: MutableMapping[str, Any]
                       ) -> dict[str, Any]:
    """A structlog processor: each string in the event, nested ones too, with the secrets
    the secret rules find masked as findings mask them."""
    return {key: _masked(value) for key, value in event_dict.items()}


def _masked(value: object) -> object:
    if isinstance(value, str):
        return mask_secrets(value)
    if isinstance(value, dict):
        return {key: _masked(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_masked(item) for item in value)
    return value


class JournalPriority:
    """A renderer's line with its syslog priority in front, as journald reads stdout."""

    def __init__(self, renderer: Any) -> None:
        self._renderer = renderer

    def __call__(self, logger: object, method: str, event_dict: MutableMapping[str, Any]
                 ) -> str:
        priority = JOURNAL_PRIORITIES.get(str(event_dict.get("level", "")).lower(), 6)
        return f"<{priority}>{self._renderer(logger, method, event_dict)}"


def writes_to_journal(stream: TextIO, env: Mapping[str, str]) -> bool:
    """Whether ``stream`` is the journal's: ``$JOURNAL_STREAM`` is its ``device:inode``
    (systemd.exec(5)), so a redirected stdout under systemd is not mistaken for it."""
    expected = env.get("JOURNAL_STREAM", "")
    if not expected:
        return False
    try:
        status = os.fstat(stream.fileno())
    except (OSError, ValueError, AttributeError):
        return False  # no descriptor (a StringIO): not the journal
    return expected == f"{status.st_dev}:{status.st_ino}"


def configure_logging(*, level: str = "info", stream: TextIO | None = None,
                      json_lines: bool | None = None,
                      env: Mapping[str, str] | None = None) -> None:
    """JSON when the stream is not a terminal (journald, files, pipes), readable otherwise."""
    stream = sys.stdout if stream is None else stream
    env = os.environ if env is None else env
    if json_lines is None:
        json_lines = not stream.isatty()
    colors = stream.isatty() and not env.get("NO_COLOR")
    renderer: Any = (structlog.processors.JSONRenderer() if json_lines
                     else structlog.dev.ConsoleRenderer(colors=colors))
    if writes_to_journal(stream, env):
        renderer = JournalPriority(renderer)
    shared: list[Any] = [
        structlog.stdlib.add_logger_name,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    # Everything goes through one standard-library handler: its lock keeps lines from
    # different threads whole, and records from libraries (and a few modules of ours
    # that use `logging`) are rendered the same way, so journald gets one format.
    handler = logging.StreamHandler(stream)
    handler.addFilter(SkippedOverlapFilter())
    handler.setFormatter(structlog.stdlib.ProcessorFormatter(
        # A library record's traceback is rendered here, so that it is masked too.
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    structlog.processors.format_exc_info, mask_secret_values, renderer],
        foreign_pre_chain=shared))
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(LEVELS[level])
    # APScheduler says two lines at INFO for every run of every job: with a catch-up every
    # two seconds that is 86,000 lines a day in the journal saying nothing. Its warnings
    # and errors still come through; `--log-level debug` shows the runs.
    logging.getLogger("apscheduler").setLevel(
        LEVELS[level] if LEVELS[level] < logging.INFO else logging.WARNING)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            *shared,
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(LEVELS[level]),
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=False,
    )
