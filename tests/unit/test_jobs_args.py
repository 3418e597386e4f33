"""jobs/*.py under spark-submit: global options first, then the command's own."""

import pytest

from pooling import cli


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["--agency", "finance"], ["ingest", "--agency", "finance"]),
        (
            ["--profile", "cluster", "-v", "--agency", "finance", "--path", "/x"],
            ["--profile", "cluster", "-v", "ingest", "--agency", "finance", "--path", "/x"],
        ),
        (
            ["--conf", "/etc/pooling/conf", "--full-reload"],
            ["--conf", "/etc/pooling/conf", "ingest", "--full-reload"],
        ),
    ],
)
def test_main_for_puts_global_options_before_the_command(monkeypatch, argv, expected):
    seen = []
    monkeypatch.setattr(cli, "main", lambda args: seen.append(args) or 0)
    assert cli.main_for("ingest", argv) == 0
    assert seen == [expected]
