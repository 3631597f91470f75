"""Structured logging: JSON lines when stderr is not a terminal, readable text when it is; a request id on
every record; and a privacy guard so free text (messages, answers, reports) never reaches INFO or above.

Why a guard when the code already logs only ids and error classes: a future ``log.info("%s", text)`` or an
exception whose message quotes user input would otherwise leak silently. The guard has two parts:

* ``Sensitive(text)``: wrap free text passed as a log argument; at DEBUG it prints, at INFO+ it prints as
  ``<redacted N chars>``.
* At INFO+ an exception is rendered as its class and stack frames only, never ``str(exc)`` (exception
  messages from parsers and drivers can quote the input that caused them).
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
import traceback
from datetime import UTC, datetime
from typing import IO, Any

__all__ = [
    "REQUEST_ID",
    "PrivacyFilter",
    "RequestIdFilter",
    "Sensitive",
    "configure_logging",
    "safe_exception",
]

#: The id of the request being handled (set by the middleware; tasks started inside a request inherit it).
REQUEST_ID: contextvars.ContextVar[str] = contextvars.ContextVar("policybot_request_id", default="-")

#: Attributes every LogRecord has; anything else on a record came from ``extra=`` and is emitted as a field.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "request_id"}


class Sensitive:
    """Free text in a log argument: shown at DEBUG only (``log.debug("q=%s", Sensitive(text))``)."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __str__(self) -> str:
        return f"<redacted {len(self.text)} chars>"

    __repr__ = __str__


def safe_exception(exc_info: Any) -> str:
    """An exception as its class and frames (file, line, function), without its message."""
    etype, value, tb = exc_info
    frames = traceback.extract_tb(tb)
    lines = [f'  File "{f.filename}", line {f.lineno}, in {f.name}' for f in frames]
    name = etype.__qualname__ if etype is not None else "Exception"
    cause = value.__cause__ if value is not None else None
    tail = f" (caused by {type(cause).__qualname__})" if cause is not None else ""
    return "Traceback (most recent call last):\n" + "\n".join(lines) + f"\n{name}{tail}"


class RequestIdFilter(logging.Filter):
    """Stamp the current request id on every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = REQUEST_ID.get()
        return True


class PrivacyFilter(logging.Filter):
    """At INFO and above: unwrap nothing. ``Sensitive`` args stay redacted; exception messages are dropped
    (``record.exc_text`` is replaced by the safe rendering). At DEBUG, ``Sensitive`` args show their text."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.INFO:
            if isinstance(record.args, tuple):
                record.args = tuple(a.text if isinstance(a, Sensitive) else a for a in record.args)
            return True
        if record.exc_info and record.exc_info[0] is not None:
            record.exc_text = safe_exception(record.exc_info)
            record.exc_info = None
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, msg, request_id, any ``extra=`` fields, exc."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
            "request_id": getattr(record, "request_id", "-"),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                out[key] = value if isinstance(value, str | int | float | bool | None) else str(value)
        if record.exc_info and record.exc_info[0] is not None:
            out["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            out["exc"] = record.exc_text
        return json.dumps(out, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """Readable lines for a terminal, with the request id and ``extra=`` fields as key=value."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s [%(request_id)s] %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extras = [f"{k}={v}" for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_")]
        if not extras:
            return line
        head, sep, rest = line.partition("\n")
        return f"{head} {' '.join(extras)}{sep}{rest}"


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is when a record is emitted (as ``logging.lastResort`` does), so a
    handler installed while stderr was redirected (a test runner, a daemon wrapper) never writes to a closed
    stream later."""

    @property
    def stream(self) -> IO[str]:
        return sys.stderr

    @stream.setter
    def stream(self, value: IO[str]) -> None:
        pass


def configure_logging(
    level: str = "INFO", fmt: str = "auto", stream: IO[str] | None = None
) -> logging.Handler:
    """Install one handler on the root logger (replacing earlier ones) and return it.

    ``fmt``: "json", "text", or "auto" (JSON unless the stream is a terminal). aiohttp's own access log is
    silenced: the middleware writes a better one (route template, hashed user, no query string)."""
    if fmt == "auto":
        fmt = "text" if (stream or sys.stderr).isatty() else "json"
    handler: logging.StreamHandler[IO[str]] = (
        logging.StreamHandler(stream) if stream is not None else _StderrHandler()
    )
    handler.addFilter(RequestIdFilter())
    handler.addFilter(PrivacyFilter())
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    return handler
