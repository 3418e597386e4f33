"""Running a project: its pool in, aggregate outputs out, waiting for the secretariat's review.

Each run writes ``outputs/<project>/<run_id>/<output>`` as Delta tables and a ``manifest.json``
with status ``pending_review``, the pool versions it read and the row count of every output.
Nothing is released from here: release is the review's job.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from pyspark.sql import SparkSession

import projects
from pooling import audit, tables
from pooling.config import Conf
from pooling.pools import pool_tables
from pooling.zones import Zones
from pseudonymize.standard import LINKAGE_PSEUDONYM, POOL_PSEUDONYM

log = logging.getLogger(__name__)

PENDING = "pending_review"


@dataclass
class RunReport:
    project: str
    run_id: str
    directory: str
    pool_versions: dict[str, int]
    outputs: dict[str, tables.Written] = field(default_factory=dict)

    def summary(self) -> str:
        outs = ", ".join(f"{n} ({w.rows:,} rows)" for n, w in self.outputs.items())
        return f"project {self.project} run {self.run_id}: {outs} -> {self.directory} [{PENDING}]"


def run_project(
    spark: SparkSession, conf: Conf, zones: Zones, project: str, *, actor: str | None = None
) -> RunReport:
    spec = conf.project(project)
    fn = projects.get(project)
    pool = pool_tables(spark, zones, spec)
    run_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    report = RunReport(
        project, run_id, zones.outputs(project, run_id), {t: v for t, (_, v) in pool.items()}
    )
    outputs = fn({t: df for t, (df, _) in pool.items()})
    for name, df in outputs.items():
        leaked = [c for c in df.columns if c in (POOL_PSEUDONYM, LINKAGE_PSEUDONYM)]
        if leaked:  # outputs are aggregates; a pseudonym column means a per-person output
            raise ValueError(
                f"project {project} output {name!r} carries pseudonym column(s) "
                f"{leaked}; outputs must be aggregates"
            )
        report.outputs[name] = tables.replace_table(
            spark,
            df,
            zones.outputs(project, run_id, name),
            {
                "kind": "output",
                "project": project,
                "run_id": run_id,
                "status": PENDING,
                "description": f"{spec.title}: {name}",
                "lineage": json.dumps(
                    [
                        {"table": zones.pool(project, t), "version": v}
                        for t, v in report.pool_versions.items()
                    ]
                ),
            },
        )
    manifest = {
        "project": project,
        "run_id": run_id,
        "status": PENDING,
        "created": run_id,
        "pool_versions": report.pool_versions,
        "outputs": {
            n: {"path": w.path, "version": w.version, "rows": w.rows}
            for n, w in report.outputs.items()
        },
        "disclosure": spec.disclosure.model_dump(),
    }
    if "://" not in report.directory:
        Path(report.directory, "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    audit.record(
        spark, zones.audit, action="project_run", subject=project, actor=actor, details=manifest
    )
    log.info(report.summary())
    return report
