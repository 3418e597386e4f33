"""Last line of defence for log lines and error messages: redact what looks like personal data.

The service's own messages never quote row values. Spark's and Delta's sometimes do (an ANSI cast
error quotes the value, a CHECK-constraint violation prints the row), and so would a bug. Every
Python log record, every error the CLI prints and (through the same patterns in
``conf/log4j2.properties``) every JVM log line passes through these patterns:

- 13 digits in a row (ASCII, full-width or Thai), optionally separated by the spaces, dashes,
  slashes or dots that normalisation removes: a citizen ID in any form it accepts;
- 9 or 10 digits starting with 0: a Thai phone number;
- any run of Thai script: names and addresses (and Thai digits).

Over-redaction (an epoch in milliseconds, a Thai word) is the accepted price.
"""

from __future__ import annotations

import logging
import re

# A digit as typed: ASCII, full-width or Thai; separators as citizen-ID normalisation removes them.
_D = "[0-9\uff10-\uff19\u0e50-\u0e59]"
_SEP = r"[\s\-\u2010-\u2015/.]?"
CITIZEN_ID = re.compile(rf"(?<!{_D}){_D}(?:{_SEP}{_D}){{12}}(?!{_D})")
PHONE = re.compile(rf"(?<!{_D})[0\uff10\u0e50]{_D}(?:{_SEP}{_D}){{7,8}}(?!{_D})")
THAI = re.compile(r"[\u0E00-\u0E7F]+")

REDACTED = "<redacted>"


def redact(text: str) -> str:
    for pattern in (CITIZEN_ID, PHONE, THAI):
        text = pattern.sub(REDACTED, text)
    return text


class RedactingFilter(logging.Filter):
    """A logging filter that redacts the formatted message (and any exception text)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = None
        if record.exc_info:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


def install(handler: logging.Handler) -> None:
    handler.addFilter(RedactingFilter())
