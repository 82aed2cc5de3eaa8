"""The incident index: Meilisearch, or the embedded search over the incidents table."""
