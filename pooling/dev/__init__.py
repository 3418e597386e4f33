"""Tools for developers and demonstrations: synthetic data, the demo, the benchmarks.

They drive the stages (ingest, pools, outputs) end to end; no stage imports them.
"""
