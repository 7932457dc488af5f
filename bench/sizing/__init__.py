"""What a team sizing a cluster reads: the PostgreSQL bound, the services against a bare
framework ceiling, cost growth, footprint and pagination (``python -m bench.sizing``)."""
