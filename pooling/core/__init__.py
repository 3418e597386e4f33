"""What every stage stands on: configuration, zones, the session, Delta tables, audit, errors.

Nothing here imports a stage (ingest, pools, outputs, review, access, ops, dev, cli).
"""
