"""deploy/k8s/values.yaml (the official Dagster Helm chart's values for soc-platform on
Kubernetes, README "Scaling") agrees with the instance we run on one machine and with the
run tags our jobs set, and its run queue passes Dagster's own config schema."""

from pathlib import Path
from typing import Any

import yaml
from dagster._config import process_config
from dagster._core.run_coordinator.queued_run_coordinator import QueuedRunCoordinator
from dagster._core.storage.tags import BACKFILL_ID_TAG, PARTITION_NAME_TAG

from sensors.microbatch import RUN_TAGS

ROOT = Path(__file__).resolve().parents[2]


def values() -> dict[str, Any]:
    loaded = yaml.safe_load((ROOT / "deploy" / "k8s" / "values.yaml").read_text())
    assert isinstance(loaded, dict)
    return loaded


def queue() -> dict[str, Any]:
    config = values()["dagsterDaemon"]["runCoordinator"]
    assert config["enabled"] and config["type"] == "QueuedRunCoordinator"
    return dict(config["config"]["queuedRunCoordinator"])


def test_the_run_queue_is_valid_dagster_config() -> None:
    q = queue()
    result = process_config(
        QueuedRunCoordinator.config_type(),
        {
            "max_concurrent_runs": q["maxConcurrentRuns"],
            "tag_concurrency_limits": q["tagConcurrencyLimits"],
        },
    )
    assert result.success, result.errors


def test_the_run_queue_keeps_every_limit_of_the_single_machine_instance() -> None:
    local = yaml.safe_load((ROOT / "dagster.yaml").read_text())["run_queue"]
    limits = queue()["tagConcurrencyLimits"]
    for limit in local["tag_concurrency_limits"]:
        assert limit in limits
    # the micro-batch limit names the tag the sensor's runs carry
    micro = next(x for x in limits if x["key"] == "soc/pipeline")
    assert RUN_TAGS["soc/pipeline"] == micro["value"] and micro["limit"] == 1


def test_one_run_per_day_and_backfills_bounded() -> None:
    limits = {x["key"]: x for x in queue()["tagConcurrencyLimits"]}
    per_day = limits[PARTITION_NAME_TAG]
    assert per_day["value"] == {"applyLimitPerUniqueValue": True} and per_day["limit"] == 1
    assert limits[BACKFILL_ID_TAG]["limit"] >= 2  # days of a backfill run in parallel


def test_runs_launch_as_kubernetes_jobs_from_our_user_code_image() -> None:
    v = values()
    assert v["runLauncher"]["type"] == "K8sRunLauncher"
    (deployment,) = v["dagster-user-deployments"]["deployments"]
    args = deployment["dagsterApiGrpcArgs"]
    workspace = yaml.safe_load((ROOT / "workspace.yaml").read_text())
    module = workspace["load_from"][0]["python_module"]
    assert args[args.index("--module-name") + 1] == module["module_name"]
    assert args[args.index("--attribute") + 1] == module["attribute"]
    # the image is built from the repository's Dockerfile, which ships that module
    assert "COPY soc_platform" in (ROOT / "Dockerfile").read_text()
