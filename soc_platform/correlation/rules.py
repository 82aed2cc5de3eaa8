"""Threshold correlation rules.

A rule names a query file (``sql/queries/<query>.sql``) that counts matching hot events per
group and window and keeps the groups at or over the threshold. The Sigma-based engine
replaces the hand-written query files later; the rule model and the windows stay.
"""

from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True)
class ThresholdRule:
    """``threshold`` or more matching events from one group within one ``window``.

    Windows start every ``hop`` (overlapping when ``hop < window``), so a burst is caught
    wherever it falls; consecutive firing windows of a group merge into one incident
    (see ``correlation.runs``).
    """

    id: str
    title: str
    incident_type: str
    query: str
    threshold: int
    window: timedelta
    hop: timedelta
    lookback: timedelta
    severity: str
    attack_techniques: tuple[str, ...] = ()
    what: str = "events"


SQLI_BURST = ThresholdRule(
    id="waf-sqli-burst",
    title="SQL injection burst",
    incident_type="sql_injection",
    query="rule_sqli_burst",
    threshold=10,
    window=timedelta(minutes=5),
    hop=timedelta(minutes=1),
    lookback=timedelta(minutes=10),
    severity="high",
    # T1190: Exploit Public-Facing Application
    attack_techniques=("T1190",),
    what="SQL injection attempts",
)

BUILTIN_RULES: list[ThresholdRule] = [SQLI_BURST]
