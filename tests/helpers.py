"""Shared test data builders."""

import json
import os
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from soc_platform.hot.store import HotStore


def waf_event(
    ts: datetime,
    ip: str = "203.0.113.7",
    *,
    rule_id: int = 0,
    rule_msg: str = "",
    tags: list[str] | None = None,
    status: int = 200,
    uri: str = "/",
    host: str = "shop.example.com",
) -> dict[str, Any]:
    return {
        "timestamp": ts.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "client_ip": ip,
        "host": host,
        "request_method": "GET",
        "request_uri": uri,
        "status_code": status,
        "user_agent": "pytest",
        "rule_id": rule_id,
        "rule_msg": rule_msg,
        "rule_tags": tags or [],
    }


def sqli_burst(start: datetime, ip: str, n: int = 12, spacing_s: float = 5) -> list[dict[str, Any]]:
    return [
        waf_event(
            start + timedelta(seconds=i * spacing_s),
            ip,
            rule_id=942100,
            rule_msg="SQL Injection Attack Detected via libinjection",
            tags=["attack-sqli", "OWASP_CRS"],
            status=403,
            uri=f"/products?id={i}'+OR+'1'='1",
        )
        for i in range(n)
    ]


def to_jsonl(events: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(e, separators=(",", ":")) + "\n" for e in events)


def clean_environ() -> dict[str, str]:
    """This process's environment without the project's settings (``SOC_*``, Meilisearch,
    Dagster, pyiceberg): what a test hands a ``soc-platform`` subprocess before its own."""
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SOC_", "MEILI_", "DAGSTER_", "PYICEBERG_"))
    }


def load_events(hot: "HotStore", events: list[dict[str, Any]]) -> None:
    """Parse ``events`` (the seed's format) and load them into the hot store."""
    from soc_platform.parsing import get_parser, split_lines

    block = split_lines(to_jsonl(events).encode())
    result = get_parser("waf_json")(block, "test.jsonl", datetime.now(UTC))
    hot.load_events(result.events)
