"""The indexer: the container that keeps the static PEP 503/691 pages."""
