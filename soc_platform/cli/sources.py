"""``soc-platform run --source nats``: micro-batches from the JetStream consumer until it
has nothing pending, each acknowledged only after its commit (README "Sources")."""

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any

from soc_platform.settings import Settings


def run_nats(
    args: argparse.Namespace,
    settings: Settings,
    run_microbatch: Callable[..., dict[str, Any]],
    run_summary: Callable[[dict[str, Any]], dict[str, Any]],
    print_run: Callable[[dict[str, Any]], None],
    combine: Callable[[list[dict[str, Any]]], dict[str, Any]],
) -> int:
    """Run micro-batches while the consumer has messages pending."""
    from soc_platform.cli.common import preflight
    from soc_platform.sources import nats

    source = nats.source_from_settings(settings)
    lag = nats.lag(source)
    if lag.num_pending == 0 and lag.num_ack_pending == 0:
        sys.stdout.write(
            f"nothing to do: no message pending on consumer {source.consumer} of stream "
            f"{source.stream}\n"
        )
        return 0
    preflight(settings)
    summaries: list[dict[str, Any]] = []
    while True:
        out = run_microbatch(settings, [], args.verbose, check_stores=False, source="nats")
        summaries.append(run_summary(out))
        if not args.json:
            print_run(summaries[-1])
        if not out["ingest"].receipts:
            break  # nothing came (messages held by another consumer's run, or ack_wait)
        lag = nats.lag(source)
        if lag.num_pending == 0:
            break
    if args.json:
        sys.stdout.write(json.dumps(combine(summaries), indent=2) + "\n")
    if lag.num_ack_pending:
        sys.stderr.write(
            f"soc-platform: {lag.num_ack_pending} message(s) await acknowledgement (held by "
            f"another run, or by a run that died: redelivered after "
            f"SOC_NATS_ACK_WAIT_SECONDS={settings.nats_ack_wait_seconds})\n"
        )
    return 0
