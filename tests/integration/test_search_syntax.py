"""The search syntax over the embedded backend (a real PostgreSQL): filters, the user agents
and paths of an incident's events in its search text, typos, order."""

from datetime import UTC, datetime

import pyarrow as pa
import pytest

from soc_platform.correlation.detection import default_detection
from soc_platform.flow import steps
from soc_platform.hot.store import HotPolicy, HotStore
from soc_platform.incidents import engine
from soc_platform.parsing import get_parser, split_lines
from soc_platform.search.backends import EmbeddedSearch
from soc_platform.search.query import QuerySyntaxError
from tests.helpers import sqli_burst, to_jsonl

T0 = datetime(2026, 3, 10, 12, 0, 30, tzinfo=UTC)
SQLI = default_detection().only("waf-sqli-burst")


def parse(events: list[dict[str, object]]) -> pa.Table:
    block = split_lines(to_jsonl(events).encode())  # type: ignore[arg-type]
    result = get_parser("waf_json")(block, "test.jsonl", datetime.now(UTC))
    assert result.dead_letters.num_rows == 0
    return result.events


@pytest.fixture
def loaded(pg_dsn: str) -> tuple[HotStore, dict[str, str]]:
    hot = HotStore(pg_dsn, policy=HotPolicy(retention_days=0))
    hot.setup()
    scanner = sqli_burst(T0, "192.168.7.21", n=12, spacing_s=10)
    for e in scanner:
        e["user_agent"] = "sqlmap/1.7.2#stable (https://sqlmap.org)"
    other = sqli_burst(T0, "10.1.2.3", n=14, spacing_s=5)
    for e in other:
        e["host"] = "api.example.org"
        e["request_uri"] = "/v2/orders?id=1+UNION+SELECT"
    events = parse(scanner + other)
    steps.load_hot(hot, events)
    report = engine.correlate(hot, events["event_time"], SQLI, now=T0)
    ids = {i.client_ip: i.id for i in report.incidents}
    assert set(ids) == {"192.168.7.21", "10.1.2.3"}
    return hot, ids


def test_user_agents_and_paths_of_the_events_are_searchable(
    loaded: tuple[HotStore, dict[str, str]],
) -> None:
    hot, ids = loaded
    search = EmbeddedSearch(hot)
    assert [h.id for h in search.search("sqlmap")] == [ids["192.168.7.21"]]
    assert ids["192.168.7.21"] in [h.id for h in search.search("sqlmpa")]  # typo
    assert [h.id for h in search.search("orders")] == [ids["10.1.2.3"]]  # a path


def test_filters(loaded: tuple[HotStore, dict[str, str]]) -> None:
    hot, _ids = loaded
    search = EmbeddedSearch(hot)

    def found(query: str) -> set[str]:
        return {h.client_ip for h in search.search(query, limit=50)}

    both = {"192.168.7.21", "10.1.2.3"}
    assert found("status:open rule:waf-sqli-burst technique:T1190") == both
    assert found("status:closed") == set()
    assert found("ip:192.168.0.0/16") == {"192.168.7.21"}
    assert found("ip:10.1") == {"10.1.2.3"}
    assert found("ip:10.1.2.3") == {"10.1.2.3"}  # one address: the client_ip/sources indexes
    assert found("ip:10.1.2.4") == set()
    assert found("ip:172.16.0.0/12") == set()
    assert found("host:api.example.org injection") == {"10.1.2.3"}
    assert found("severity:>=informational tactic:initial-access") == both
    assert found("since:24h") == set()  # the incidents are from March
    assert found("rule:waf-xss-burst") == set()
    scored = search.search("", sort="score")
    assert [h.score for h in scored] == sorted((h.score for h in scored), reverse=True)
    with pytest.raises(QuerySyntaxError, match="unknown filter 'colour'"):
        search.search("colour:red")
