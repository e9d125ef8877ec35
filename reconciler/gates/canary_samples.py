"""A canary's samples from Prometheus (design §12.1): each metric's range queries from the step's
flag write to now at the judge's ``interval``, split by ``digest`` (canary against stable) and by
the ``by`` label, as the judge (:mod:`reconciler.canary.judge`) takes them."""

from __future__ import annotations

import asyncio
import json
import math
from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from ..canary.judge import Counts, Pair, Samples, Series, Side
from ..model.canary import CanaryJudge, CanaryMetric
from ..model.gates import PrometheusSpec
from ..sources.interface import SourceError
from ..sources.rest import HttpClient, Transport, resolve_url
from ..variables import expand_headers
from .prometheus import CONCURRENCY, EXPLAINED, MAX_ANSWER, QueryFailed, substitute

#: The segment of a metric judged without ``by``: all its requests together.
WHOLE = "*"
#: (digest, segment) -> values of one range query, oldest first.
Matrix = dict[tuple[str, str], list[float]]


def matrix_of(body: bytes, by: str | None) -> Matrix:
    """A range query's answer as values per (digest, segment); NaN steps left out."""
    try:
        answer: Any = json.loads(body)
    except ValueError:
        raise QueryFailed("Prometheus answered something that is not JSON") from None
    if not isinstance(answer, dict) or answer.get("status") != "success":
        kind = answer.get("errorType") if isinstance(answer, dict) else None
        error = str(answer.get("error", ""))[:300] if isinstance(answer, dict) else ""
        raise QueryFailed(f"Prometheus refused the query ({kind}: {error})", refused=True)
    data = answer.get("data") or {}
    if data.get("resultType") != "matrix":
        raise QueryFailed(f"the query gives a {data.get('resultType')}, not a range of series")
    found: Matrix = defaultdict(list)
    try:
        for series in data["result"]:
            labels = series["metric"]
            if "digest" not in labels:
                raise QueryFailed("the query's series have no 'digest' label: keep it with by")
            segment = WHOLE if by is None else str(labels.get(by, ""))
            values = [float(v) for _, v in series["values"]]
            found[(_hex(labels["digest"]), segment)].extend(v for v in values if not math.isnan(v))
    except (TypeError, KeyError, ValueError):
        raise QueryFailed("Prometheus answered a malformed result") from None
    return dict(found)


def promql_duration(judge: CanaryJudge) -> str:
    """``{interval}`` as PromQL writes it: ``60s``, or ``1500ms``."""
    seconds = judge.interval
    return f"{seconds:.0f}s" if seconds == int(seconds) else f"{seconds * 1000:.0f}ms"


def _hex(digest: str) -> str:
    return digest.removeprefix("sha256:")


def samples_of(
    metric: CanaryMetric, matrices: Mapping[str, Matrix], canary: str, stable: str
) -> dict[str, Pair]:
    """One metric's sides per segment from its queries' matrices: summed counts for a
    proportion, the per-interval values for Mann-Whitney. Other digests are left out; a
    segment seen on one side only has an empty other side (so it is thin, never passing)."""
    sides = {_hex(canary): "canary", _hex(stable): "stable"}
    segments = sorted({seg for m in matrices.values() for dig, seg in m if dig in sides})
    found: dict[str, Pair] = {}
    for segment in segments:
        if metric.test == "proportion":
            events, trials = (matrices[q] for q in metric.queries)
            pair: list[Side] = [
                Counts(sum(events.get((d, segment), ())), sum(trials.get((d, segment), ())))
                for d in sides
            ]
        else:
            values = matrices[metric.queries[0]]
            pair = [Series(tuple(values.get((d, segment), ()))) for d in sides]
        found[segment] = Pair(pair[0], pair[1])
    return found


async def read_samples(
    spec: PrometheusSpec,
    environ: Mapping[str, str],
    judge: CanaryJudge,
    *,
    bundle: str,
    environment: str,
    canary: str,
    stable: str,
    start: float,
    end: float,
    client: HttpClient | None = None,
) -> Samples:
    """Every metric of ``judge`` from ``start`` (the step's flag write) to ``end`` (now), unix
    seconds, at ``judge.interval``; :class:`QueryFailed` says why a query gave nothing.
    ``client``: the step's shared pool, left open; else one of its own."""
    where = "analysis.prometheus"
    url = resolve_url(spec.url, environ, where).rstrip("/") + "/api/v1/query_range"
    headers = expand_headers(spec.headers, environ, where)
    owned = client is None
    client = client or HttpClient(limit=CONCURRENCY)
    transport = Transport(client, headers=headers, timeout=spec.timeout, max_body=MAX_ANSWER)
    values = {"bundle": bundle, "environment": environment, "interval": promql_duration(judge)}

    async def one(promql: str) -> Matrix:
        params = {"query": substitute(promql, values), "start": f"{start:.3f}"}
        params |= {"end": f"{max(end, start):.3f}", "step": f"{judge.interval:g}"}
        try:
            answer = await transport.request("GET", url, params=params, answers=EXPLAINED)
        except SourceError as exc:
            raise QueryFailed(f"Prometheus unreachable ({exc})") from None
        return matrix_of(answer.body, judge.by)

    try:
        queries = list(dict.fromkeys(q for m in judge.metrics for q in m.queries))
        matrices = dict(zip(queries, await asyncio.gather(*map(one, queries)), strict=True))
    finally:
        if owned:
            await client.close()
    return {m.name: samples_of(m, matrices, canary, stable) for m in judge.metrics}
