"""Outputs (pools → outputs): a project run, the aggregates gate, its charts and report."""

from pooling.outputs.runs import RunReport, run_project

__all__ = ["RunReport", "run_project"]
