"""What a command works with: ``conf/`` loaded, the profile, its zones, the key and a session."""

from __future__ import annotations

import argparse

# Sessions this process's commands started (and must stop): see pooling.cli.main.
started: list = []


class Context:
    """``conf/``, the profile and its zones, loaded (and checked) when a command starts."""

    def __init__(self, args: argparse.Namespace) -> None:
        from pooling.core.config import Conf, default_conf_dir
        from pooling.core.zones import Zones

        self.conf = Conf(args.conf or default_conf_dir())
        self.base_dir = self.conf.root.resolve().parent
        self.profile = self.conf.profile(args.profile)
        self.zones = Zones.for_profile(self.profile, self.base_dir)

    def master_key(self):
        from pooling.core.zones import resolve_path
        from pseudonymize import load_master_key

        keys = self.profile.keys
        file = resolve_path(keys.file, self.base_dir) if keys.file else None
        return load_master_key(file, keys.env)

    def spark(self, extra_conf: dict[str, str] | None = None):
        from pyspark.sql import SparkSession

        from pooling.core.session import build_session

        running = SparkSession.getActiveSession()  # a caller's session (tests, a notebook)
        spark = build_session(self.profile, base_dir=self.base_dir, extra_conf=extra_conf)
        if running is None:  # stop at the end only what this command started
            started.append(spark)
        return spark
