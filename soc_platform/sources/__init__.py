"""Where input lands and comes from: the landing directory, its ledger, the lifecycle and
planning of landing files, synthetic traffic for demos and tests; an S3/MinIO prefix
(:mod:`.s3`) and a NATS JetStream consumer (:mod:`.nats`)."""
