"""Where raw bytes come from besides the landing directory: an S3/MinIO prefix
(:mod:`.s3`) and a NATS JetStream consumer (:mod:`.nats`). I/O only; parsing stays in
``parsing``, the batch lifecycle in ``lifecycle`` and the Dagster wiring in ``sensors``."""
