"""The pooling service: ingest, pools, projects, review, audit."""
