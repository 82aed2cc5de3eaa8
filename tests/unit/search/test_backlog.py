"""The search backlog's drain plan and the Meilisearch document (pure)."""

import re
from datetime import UTC, datetime, timedelta

from soc_platform.models import Incident
from soc_platform.search.backends import MEILI_SETTINGS, meili_document
from soc_platform.search.backlog import Entry, plan_drain
from soc_platform.search.query import parse_query

T0 = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def test_the_plan_follows_the_table_not_the_queued_operation() -> None:
    entries = [
        Entry("kept", "upsert", 1),  # stored: upsert
        Entry("retired", "delete", 2),  # gone: delete
        Entry("gone-since", "upsert", 3),  # deleted after it was queued: delete
        Entry("back-again", "delete", 4),  # stored again after a delete was queued: upsert
    ]
    plan = plan_drain(entries, stored={"kept", "back-again", "not-queued"})
    assert plan.upserts == ["kept", "back-again"]
    assert plan.deletes == ["retired", "gone-since"]


def test_an_id_is_sent_once_per_batch() -> None:
    plan = plan_drain([Entry("a", "upsert", 1), Entry("a", "upsert", 2)], stored={"a"})
    assert (plan.upserts, plan.deletes) == (["a"], [])
    assert plan_drain([], stored={"a"}) == plan_drain([], stored=set())


def incident(**extra: object) -> Incident:
    return Incident(
        id="waf-sqli-burst-1",
        type="sql_injection",
        rule="waf-sqli-burst",
        severity="high",
        client_ip="198.51.100.7",
        targets=["shop.example.com/products"],
        start_time=T0,
        end_time=T0 + timedelta(minutes=2),
        window_start=T0,
        window_end=T0 + timedelta(minutes=5),
        event_count=12,
        blocked_count=12,
        rule_ids=["942100"],
        description="12 blocked SQL injection attempts",
        **extra,  # type: ignore[arg-type]
    )


def test_the_meilisearch_document_has_every_field_the_settings_name() -> None:
    doc = meili_document(
        incident(
            countries=["RU"],
            asns=[12345],
            user_agents=["sqlmap/1.7"],
            paths=["/products"],
            notes=["phished via vendor portal"],
        )
    )
    assert doc["countries"] == ["RU"] and doc["asns"] == [12345]
    assert doc["user_agents"] == ["sqlmap/1.7"] and doc["paths"] == ["/products"]
    assert doc["notes"] == ["phished via vendor portal"]
    named = {*MEILI_SETTINGS["searchableAttributes"], *MEILI_SETTINGS["filterableAttributes"]}
    assert named <= set(doc), named - set(doc)


def test_country_and_asn_filters_name_document_fields() -> None:
    flt = parse_query("country:RU asn:12345").meili_filter(T0)
    assert flt is not None
    doc = meili_document(incident(countries=["RU"], asns=[12345]))
    for name in re.findall(r"\b(countries|asns)\b", flt):
        assert name in doc
    assert {"countries", "asns"} <= set(re.findall(r"\b(countries|asns)\b", flt))
