"""The flow's steps as the Dagster assets and sensors run them, the Dagster resources and
instance, and the reports of runs."""
