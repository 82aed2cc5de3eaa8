"""The canonical event in Elastic Common Schema (ECS) names, for export.

:data:`ECS_FIELDS` is the one mapping (README "The canonical event" shows it as a table);
:func:`to_ecs_documents` turns an events table (lake or hot columns) into nested ECS
documents and :func:`ecs_json_lines` into newline-delimited JSON. Fields ECS has no
name for live under ``soc.``. Null fields and empty lists are left out.
"""

import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pyarrow as pa

#: canonical column -> ECS field (dotted)
ECS_FIELDS: dict[str, str] = {
    "event_time": "@timestamp",
    "event_id": "event.id",
    "action": "event.action",
    "ingested_at": "event.ingested",
    "source_format": "event.module",
    "raw": "event.original",
    "client_ip": "source.ip",
    "source_country": "source.geo.country_iso_code",
    "source_as_number": "source.as.number",
    "source_as_org": "source.as.organization.name",
    "host": "url.domain",
    "request_uri": "url.original",
    "url_path": "url.path",
    "url_query": "url.query",
    "request_method": "http.request.method",
    "request_id": "http.request.id",
    "status_code": "http.response.status_code",
    "user_agent": "user_agent.original",
    "rule_ids": "rule.id",
    "rule_names": "rule.name",
    "labels": "tags",
    "observer_vendor": "observer.vendor",
    "observer_product": "observer.product",
    "source_file": "log.file.path",
    # no ECS name: vendor fields
    "rule_id": "soc.rule.id",
    "rule_msg": "soc.rule.message",
    "rule_tags": "soc.rule.tags",
    "anomaly_score": "soc.anomaly_score",
    "host_criticality": "soc.host.criticality",
    "source_offset": "soc.source_offset",
}


def _put(doc: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, leaf = dotted.split(".") if dotted != "@timestamp" else [dotted]
    node = doc
    for key in parents:
        node = node.setdefault(key, {})
    node[leaf] = value


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    return value


def iter_ecs_documents(events: pa.Table) -> Iterator[dict[str, Any]]:
    """One nested ECS document per event (columns the table lacks are left out)."""
    names = [n for n in events.column_names if n in ECS_FIELDS]
    for batch in events.select(names).to_batches():
        for row in batch.to_pylist():
            doc: dict[str, Any] = {}
            for name, value in row.items():
                if value is None or value == []:
                    continue
                _put(doc, ECS_FIELDS[name], _plain(value))
            doc.setdefault("ecs", {"version": "8.11.0"})
            yield doc


def to_ecs_documents(events: pa.Table) -> list[dict[str, Any]]:
    """:func:`iter_ecs_documents` as a list."""
    return list(iter_ecs_documents(events))


def ecs_json_lines(events: pa.Table) -> bytes:
    """The events as ECS documents, one JSON object a line."""
    return b"".join(
        json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"
        for doc in iter_ecs_documents(events)
    )
