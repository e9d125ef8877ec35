"""A devices target's telemetry (design §13): one Prometheus instant query whose answer has a
series per ``tier`` and ``digest`` label, valued by the active devices on it."""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..sources.rest import HttpClient, Transport, resolve_url
from ..variables import expand_headers
from .prometheus import MAX_ANSWER, QueryFailed, query_body

if TYPE_CHECKING:
    from ..model.devices import TelemetrySpec

#: Tier -> digest -> active devices.
Counts = dict[str, dict[str, float]]


def counts_of(body: bytes) -> Counts:
    """An instant vector's series summed by their ``tier`` and ``digest`` labels."""
    try:
        answer = json.loads(body)
    except ValueError:
        raise QueryFailed("Prometheus answered something that is not JSON") from None
    if not isinstance(answer, dict) or answer.get("status") != "success":
        error = str(answer.get("error", "")) if isinstance(answer, dict) else ""
        raise QueryFailed(f"Prometheus refused the query ({error[:300]})", refused=True)
    data: Any = answer.get("data") or {}
    if data.get("resultType") != "vector":
        raise QueryFailed("the telemetry query must give an instant vector", refused=True)
    counts: Counts = {}
    try:
        for series in data.get("result") or []:
            labels = series["metric"]
            tier, digest = labels.get("tier"), labels.get("digest")
            if not isinstance(tier, str) or not isinstance(digest, str):
                raise QueryFailed(
                    "the telemetry query's series need `tier` and `digest` labels "
                    "(sum by (tier, digest) (...))",
                    refused=True,
                )
            value = float(series["value"][1])
            if math.isfinite(value) and value > 0:
                tier_counts = counts.setdefault(tier, {})
                tier_counts[digest] = tier_counts.get(digest, 0.0) + value
    except (TypeError, KeyError, IndexError, ValueError, AttributeError):
        raise QueryFailed("Prometheus answered a malformed result", refused=True) from None
    return counts


async def read_counts(
    spec: TelemetrySpec,
    promql: str,
    environ: Mapping[str, str],
    where: str,
    at: Sequence[float | None] = (None,),
    client: HttpClient | None = None,
) -> list[Counts | QueryFailed]:
    """Active devices per tier and digest, now (None) and at each other moment of ``at``,
    concurrently, on ``client`` (the run's shared one; else one of its own); each a
    :class:`QueryFailed` when it gave none."""
    url = resolve_url(spec.prometheus.url, environ, where)
    headers = expand_headers(spec.prometheus.headers, environ, where)
    own = client is None
    client = client or HttpClient(limit=4)
    transport = Transport(
        client, headers=headers, timeout=spec.prometheus.timeout, max_body=MAX_ANSWER
    )

    async def one(moment: float | None) -> Counts | QueryFailed:
        try:
            return counts_of(await query_body(transport, url, promql, moment))
        except QueryFailed as exc:
            return exc

    try:
        return list(await asyncio.gather(*(one(moment) for moment in at)))
    finally:
        if own:
            await client.close()
