"""The embedded Dagster instance: a DAGSTER_HOME under the data directory (SQLite storage).

Production points DAGSTER_HOME at a folder holding the repository's ``dagster.yaml``
(PostgreSQL storage from environment variables) instead.
"""

import os
from pathlib import Path

from soc_platform.settings import Settings

EMBEDDED_INSTANCE_YAML = """\
# Written by soc-platform for the embedded defaults: SQLite storage in this folder.
# One micro-batch at a time (the lake's append is check-then-write), others queue.
run_queue:
  max_concurrent_runs: 4
  tag_concurrency_limits:
    - key: soc/pipeline
      value: microbatch
      limit: 1
# A failed micro-batch is retried (every step is idempotent); the sensor does not
# launch the same files twice.
run_retries:
  enabled: true
  max_retries: 2
telemetry:
  enabled: false
"""


def prepare_dagster_home(settings: Settings) -> Path:
    """Make sure DAGSTER_HOME exists (with a dagster.yaml) and is exported; return it."""
    home = settings.dagster_home
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text(EMBEDDED_INSTANCE_YAML)
    os.environ["DAGSTER_HOME"] = str(home)
    return home
