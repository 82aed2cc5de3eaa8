"""Per-rule dispositions: how often analysts close a rule's incidents as false positives
(``soc-platform rules stats`` and the ``noisy_rules`` asset check)."""

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import psycopg
from psycopg.rows import dict_row

from soc_platform import sql


@dataclass(frozen=True)
class RuleStats:
    rule: str
    incidents: int
    closed: int
    true_positive: int
    false_positive: int
    benign: int

    @property
    def fp_ratio(self) -> float | None:
        """False positives among the closed incidents (None: none closed yet)."""
        return self.false_positive / self.closed if self.closed else None

    def to_dict(self) -> dict[str, Any]:
        ratio = self.fp_ratio
        return {**asdict(self), "fp_ratio": None if ratio is None else round(ratio, 4)}


def rule_stats(conn: psycopg.Connection[Any]) -> list[RuleStats]:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(sql.query("rule_stats"))
        return [
            RuleStats(
                r["rule"],
                int(r["incidents"]),
                int(r["closed"]),
                int(r["true_positive"]),
                int(r["false_positive"]),
                int(r["benign"]),
            )
            for r in cur
        ]


def noisy_rules(stats: Sequence[RuleStats], max_ratio: float, min_closed: int) -> list[RuleStats]:
    """The rules whose false-positive ratio is over ``max_ratio`` with at least
    ``min_closed`` closed incidents (fewer say too little), noisiest first."""
    noisy = [
        s
        for s in stats
        if s.closed >= min_closed and s.fp_ratio is not None and s.fp_ratio > max_ratio
    ]
    return sorted(noisy, key=lambda s: (-(s.fp_ratio or 0.0), s.rule))
