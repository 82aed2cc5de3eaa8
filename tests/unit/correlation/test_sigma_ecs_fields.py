"""ECS field names reach the same columns as the web taxonomy (pure: compiled SQL)."""

from pathlib import Path

import pytest

from soc_platform.correlation.ruleset import load_rule_set
from soc_platform.correlation.sigma.columns import COLUMNS, ECS, TAXONOMY, column_of


def predicate(selection: str) -> str:
    text = (
        "title: t\nname: t\nlogsource:\n    category: webserver\ndetection:\n"
        f"    sel:\n        {selection}\n    condition: sel\n"
    )
    rule_set = load_rule_set(Path("inline"), texts=[("inline.yml", text)])
    assert rule_set.problems == [], [p.message for p in rule_set.problems]
    (rule,) = rule_set.rules
    return rule.predicate


@pytest.mark.parametrize(
    ("ecs", "web"),
    [
        ("source.ip|cidr: 198.51.100.0/24", "c-ip|cidr: 198.51.100.0/24"),
        ("url.path: /login", "cs-uri-stem: /login"),
        ("http.request.method: POST", "cs-method: POST"),
        ("http.response.status_code: 401", "sc-status: 401"),
        ("user_agent.original|contains: sqlmap", "c-useragent|contains: sqlmap"),
        ("url.domain: shop.example.com", "cs-host: shop.example.com"),
    ],
)
def test_ecs_and_web_taxonomy_compile_alike(ecs: str, web: str) -> None:
    assert predicate(ecs) == predicate(web)


@pytest.mark.parametrize(
    ("selection", "sql"),
    [
        ("source.as.number: 12345", "e.source_as_number"),
        ("source.as.organization.name|contains: Google", "e.source_as_org"),
        ("source.geo.country_iso_code: US", "e.source_country"),
        ("host.asset.criticality: critical", "e.host_criticality"),
        ("rule.id: '942100'", "e.rule_ids"),
        ("rule.name|contains: SQL", "e.rule_names"),
        ("observer.vendor: Cloudflare", "e.observer_vendor"),
        ("observer.product: waf", "e.observer_product"),
        ("tags: 'awswaf:managed:aws:sql-database:SQLi_QueryArguments'", "e.labels"),
        ("http.request.id: abc", "e.request_id"),
        ("event.action: blocked", "e.action"),
        ("url.query|contains: 'id='", "strpos(e.request_uri, '?')"),
    ],
)
def test_ecs_fields_of_the_enriched_event(selection: str, sql: str) -> None:
    assert sql in predicate(selection)


def test_every_ecs_name_maps_to_a_column_and_clashes_with_no_web_name() -> None:
    for name, column in ECS.items():
        assert column in COLUMNS, name
        assert column_of(name) is COLUMNS[column]
    assert not set(ECS) & set(TAXONOMY)


def test_an_ecs_field_waf_events_lack_says_so() -> None:
    text = (
        "title: t\nname: t\nlogsource:\n    category: webserver\ndetection:\n"
        "    sel:\n        http.request.referrer|contains: evil\n    condition: sel\n"
    )
    (problem,) = load_rule_set(Path("inline"), texts=[("inline.yml", text)]).problems
    assert "http.request.referrer" in problem.message and "Referer" in problem.message
