"""Incidents: the correlation algorithm run over the hot store, and the incidents tables."""
