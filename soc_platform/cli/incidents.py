"""``incidents`` and ``search``: the incidents table and the search backend."""

import argparse
import json

from soc_platform.cli.common import _fmt_time, _hot, _print
from soc_platform.settings import Settings


def cmd_incidents(args: argparse.Namespace, settings: Settings) -> int:
    found = _hot(settings).list_incidents(limit=args.limit)
    if args.json:
        _print(json.dumps([i.to_document() for i in found], indent=2))
        return 0
    if not found:
        _print("no incidents yet (run: soc-platform run)")
        return 0
    for inc in found:
        status = f"  [{inc.status}: {inc.suppression}]" if inc.status != "open" else ""
        _print(
            f"{inc.id}  {inc.severity:<8} {inc.score:>3}  {inc.rule:<28} "
            f"{_fmt_time(inc.start_time)}  {inc.event_count:>5} events{status}"
        )
        _print(f"    {inc.description}")
        if inc.attack_techniques:
            _print(f"    ATT&CK {', '.join(inc.attack_techniques)}; {'; '.join(inc.score_reasons)}")
    return 0


def cmd_search(args: argparse.Namespace, settings: Settings) -> int:
    from soc_platform import factory

    # the hot store is needed by the embedded backend only: do not start it otherwise
    if args.query == "reindex":
        return _reindex(args, settings)
    hot = _hot(settings) if settings.search_backend == "embedded" else None
    backend = factory.search_backend(hot, settings.meili_url, settings.meili_api_key)
    hits = backend.search(args.query, limit=args.limit, sort=args.sort)
    if args.json:
        _print(
            json.dumps(
                {"backend": backend.name, "query": args.query, "hits": [h.to_dict() for h in hits]},
                indent=2,
            )
        )
        return 0
    _print(f"{len(hits)} result(s) for {args.query!r} ({backend.name} search)")
    for hit in hits:
        _print(
            f"  {hit.id}  {hit.severity:<8} {hit.rule:<28} {hit.client_ip:<16} "
            f"{_fmt_time(hit.start_time)}"
        )
        _print(f"      {hit.description}")
    return 0


def _reindex(args: argparse.Namespace, settings: Settings) -> int:
    """``search reindex``: every incident of the incidents table (the system of record)
    upserted into the search backend by id, and documents of incidents that no longer
    exist deleted: catches up after the backend was down or its index was lost."""
    from datetime import timedelta

    from soc_platform import factory
    from soc_platform.flow import steps

    hot = _hot(settings)
    backend = factory.search_backend(hot, settings.meili_url, settings.meili_api_key)
    found = hot.list_incidents(limit=100_000_000)
    count = steps.index_incidents(backend, found)
    pruned = 0
    if found:
        lo = min(i.start_time for i in found) - timedelta(days=366)
        hi = max(i.start_time for i in found) + timedelta(days=1)
        pruned = backend.prune(lo, hi, [i.id for i in found])
    if args.json:
        _print(json.dumps({"backend": backend.name, "indexed": count, "pruned": pruned}))
    elif backend.name == "embedded":
        _print(
            f"{count} incident(s): the embedded search reads the incidents table (nothing to do)"
        )
    else:
        _print(f"{count} incident(s) indexed in {backend.name}; {pruned} stale document(s) deleted")
    return 0
