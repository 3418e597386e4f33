"""The pooling service, laid out in the order data flows.

``core`` (what every stage stands on) → ``ingest`` → ``pools`` → ``outputs`` → ``review`` →
``access``; beside them ``ops`` (catalog, lineage, retention over every zone), ``dev`` (synthetic
data, demo, benchmarks) and ``cli``. A package imports only ``core`` and the packages before it
(``tests/unit/test_layout.py`` checks).
"""
