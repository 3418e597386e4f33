"""Personal data that reaches a log line or an error message is redacted on the way out."""

import logging
import subprocess
import sys

import pytest

from pooling import cli
from pooling.core import redact

RAW = [
    "1101700207030",
    "1-1017-00207-03-0",
    "1 1017 00207 03 0",
    "0812345678",
    "081-234-5678",
    "สมชาย",
    "๑๑๐๑๗๐๐๒๐๗๐๓๐",
    "１１０１７００２０７０３０",  # full-width digits, as a Thai input method types them
    "1.1017.00207.03.0",
    "1/1017/00207/03/0",
    "1\u20131017\u201300207\u201303\u20130",  # en dashes
]


@pytest.mark.parametrize("value", RAW)
def test_identifier_shapes_are_redacted(value):
    out = redact.redact(f"CAST_INVALID_INPUT The value '{value}' of the type STRING")
    assert value not in out and redact.REDACTED in out


def test_ordinary_figures_survive():
    text = "wrote 4,437,906 rows in 75.2 s, version 12, key k1-0a1b2c3d4e5f6071"
    assert redact.redact(text) == text


def test_python_log_records_are_redacted(caplog):
    logger = logging.getLogger("pooling.test_redact")
    handler = logging.StreamHandler()
    redact.install(handler)
    logger.addHandler(handler)
    try:
        with caplog.at_level(logging.INFO):
            logger.info("row %s of %s failed", "1101700207030", "สมชาย")
    finally:
        logger.removeHandler(handler)
    # The filter rewrote the record that every later handler (caplog among them) sees.
    assert "1101700207030" not in caplog.text and "สมชาย" not in caplog.text
    assert "row <redacted> of <redacted> failed" in caplog.text


def test_cli_prints_unexpected_errors_redacted(monkeypatch, capsys):
    def boom(args):
        raise RuntimeError(
            "An error occurred while calling o1.save.\n"
            ": DeltaInvariantViolationException: CHECK constraint violated by row with values:\n"
            " - linkage_pseudonym : 1101700207030\n"
            "\tat org.apache.spark.Something(Some.scala:1)"
        )

    monkeypatch.setattr(cli, "_run", boom)
    assert cli.main(["catalog"]) == 1
    err = capsys.readouterr().err
    assert "1101700207030" not in err
    assert "pooling: failed: RuntimeError" in err and "CHECK constraint" in err


def test_jvm_log_lines_are_redacted(tmp_path):
    """Spark's own log4j output goes through conf/log4j2.properties' redaction patterns."""
    script = (
        "from pathlib import Path\n"
        "from pooling.core.config import Conf\n"
        "from pooling.core.session import build_session\n"
        "conf = Conf(Path('conf'))\n"
        "spark = build_session(conf.profile('local'), base_dir=Path('.'),"
        " extra_conf={'spark.ui.enabled': 'false'})\n"
        "log = spark._jvm.org.apache.logging.log4j.LogManager.getLogger('redaction-test')\n"
        "log.error('id 1101700207030 phone 081-234-5678 name สมชาย')\n"
        # An exception is written once, redacted: never a second, raw copy of its trace.
        "cause = spark._jvm.java.lang.IllegalStateException('cause １１０１７００２０７０３０')\n"
        "err = spark._jvm.java.lang.RuntimeException('row 1-1017-00207-03-0 failed', cause)\n"
        "log.error('redaction-test with a trace', err)\n"
        # A table replaced at its path: Delta warns with both snapshots, file statistics (each
        # column's min and max value) included. Such a dump never reaches the log.
        "from pooling.core import tables\n"
        f"where = {str(tmp_path / 'quarantine')!r}\n"
        "rows = spark.createDataFrame(\n"
        "    [('somchai.leak@example.com', '110170020703')], 'e string, i string')\n"
        "for _ in range(2):\n"
        "    tables.replace_table(spark, rows, where, {'kind': 'quarantine'})\n"
        "print('replaced', tables.current_version(spark, where))\n"
        "spark.stop()\n"
    )
    from tests.conftest import REPO

    done = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    line = next(ln for ln in done.stderr.splitlines() if "redaction-test" in ln)
    assert line.endswith("id <redacted> phone <redacted> name <redacted>")
    assert "redaction-test with a trace" in done.stderr
    assert "java.lang.RuntimeException: row <redacted> failed" in done.stderr
    for raw in ("1101700207030", "1-1017-00207-03-0", "１１０１７００２０７０３０", "00207"):
        assert raw not in done.stderr
    assert "replaced 1" in done.stdout  # the table was replaced, so Delta had a snapshot to dump
    for raw in ("somchai.leak@example.com", "110170020703", "Snapshot(path="):
        assert raw not in done.stderr
