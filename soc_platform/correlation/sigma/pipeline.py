"""The processing pipeline that fits Sigma web rules to soc-platform's WAF events.

Three steps, in pySigma's way:

1. rules whose log source is not web traffic fail with the reason (a Windows or a
   firewall rule cannot run over WAF events);
2. fields the WAF events do not carry fail with the field and the reason;
3. the Sigma web-server taxonomy (``cs-uri-query``, ``c-ip``, ``sc-status``...) is mapped onto
   the logical columns of :mod:`.columns`, which the backend turns into SQL.
"""

from dataclasses import dataclass

from sigma.exceptions import SigmaTransformationError
from sigma.processing.conditions import LogsourceCondition
from sigma.processing.pipeline import ProcessingItem, ProcessingPipeline
from sigma.processing.transformations import (
    FieldMappingTransformation,
    RuleFailureTransformation,
)
from sigma.processing.transformations.base import DetectionItemTransformation
from sigma.rule import SigmaDetectionItem

from soc_platform.correlation.sigma.columns import TAXONOMY, UNAVAILABLE, known_fields

#: Log sources whose events the hot table holds.
WEB_LOGSOURCES: tuple[dict[str, str], ...] = (
    {"category": "webserver"},
    {"category": "proxy"},
    {"product": "waf"},
    {"product": "apache"},
    {"product": "nginx"},
    {"service": "apache"},
    {"service": "nginx"},
)


@dataclass
class UnknownFieldFailure(DetectionItemTransformation):
    """Fail on a field the WAF events have no column for, naming it and saying why."""

    def apply_detection_item(self, detection_item: SigmaDetectionItem) -> None:
        name = detection_item.field
        if name is None or name in known_fields():
            return
        if name in UNAVAILABLE:
            message = f"field '{name}': {UNAVAILABLE[name]}"
        else:
            message = (
                f"field '{name}': no such field in WAF events "
                f"(fields: {', '.join(sorted(known_fields()))})"
            )
        raise SigmaTransformationError(
            message,
            source=detection_item.source,
        )


def _mapping() -> dict[str | None, str | list[str]]:
    mapping: dict[str | None, str | list[str]] = {}
    mapping.update(TAXONOMY)
    return mapping


def waf_pipeline() -> ProcessingPipeline:
    """The pipeline for WAF / web-server rules over ``waf_events``."""
    return ProcessingPipeline(
        name="soc-platform WAF events",
        priority=20,
        items=[
            ProcessingItem(
                identifier="soc_web_logsource",
                transformation=RuleFailureTransformation(
                    "log source is not web traffic: the hot table holds WAF and web-server "
                    "events (category webserver or proxy, product waf, apache or nginx)"
                ),
                # conditions are bound to one pipeline: fresh ones for each
                rule_conditions=[LogsourceCondition(**ls) for ls in WEB_LOGSOURCES],
                rule_condition_linking=any,
                rule_condition_negation=True,
            ),
            ProcessingItem(identifier="soc_known_fields", transformation=UnknownFieldFailure()),
            ProcessingItem(
                identifier="soc_web_taxonomy",
                transformation=FieldMappingTransformation(_mapping()),
            ),
        ],
    )
