"""Operations over every zone: the catalog, lineage and the data lifecycle (retention)."""
