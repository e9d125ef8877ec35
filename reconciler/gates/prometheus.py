"""Metric analysis on Prometheus: one instant query per gate and target (``/api/v1/query``), its
answer judged against the gate's bounds (:class:`~reconciler.model.gates.AnalysisGate`).

Missing data — an empty answer, only NaN, or Prometheus not answering — is the gate's
``on_missing`` (fail by default: it fails closed). A query Prometheus refuses (bad PromQL), or
whose result is not a number per series (a matrix, a string, malformed), fails whatever
``on_missing`` says: no data will ever come. Messages quote the query, never the URL
(it may carry a secret).
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..model.gates import AnalysisGate, PrometheusSpec
from ..model.rollout import GateReading
from ..sources.interface import SourceError, TooLarge
from ..sources.rest import HttpClient, Transport, resolve_url
from ..variables import expand_headers

#: Largest answer read from Prometheus (a vector of a few thousand series).
MAX_ANSWER = 4 * 1024 * 1024
#: Queries in flight at once (one wave's targets times its gates).
CONCURRENCY = 16
#: Seconds a gate query may take even when the command's deadline is (nearly) reached.
QUERY_FLOOR = 1.0
#: Statuses Prometheus answers with an explanation: 400 bad_data, 422 execution, 503 timeout.
EXPLAINED = (400, 422, 503)


class QueryFailed(Exception):
    """Prometheus gave no values: ``refused`` when the query itself is wrong."""

    def __init__(self, reason: str, *, refused: bool = False) -> None:
        super().__init__(reason)
        self.refused = refused


def substitute(query: str, values: Mapping[str, str]) -> str:
    """``query`` with ``{target}``, ``{bundle}``, ``{environment}``, ``{revision}`` filled in
    (plain replacement: PromQL's own braces stay as they are)."""
    for key, value in values.items():
        query = query.replace("{" + key + "}", value)
    return query


def values_of(body: bytes) -> list[float]:
    """The numbers of an instant query's answer (one per series; a scalar is one)."""
    try:
        answer = json.loads(body)
    except ValueError:
        raise QueryFailed("Prometheus answered something that is not JSON") from None
    if not isinstance(answer, dict):
        raise QueryFailed("Prometheus answered something that is not its API's JSON")
    if answer.get("status") != "success":
        kind, error = answer.get("errorType"), str(answer.get("error", ""))[:300]
        refused = kind in ("bad_data", "execution")
        raise QueryFailed(f"Prometheus refused the query ({kind}: {error})", refused=refused)
    data: Any = answer.get("data") or {}
    kind, result = data.get("resultType"), data.get("result")
    try:
        if kind == "vector":
            return [float(series["value"][1]) for series in result]
        if kind == "scalar":
            return [float(result[1])]
    except (TypeError, KeyError, IndexError, ValueError):
        raise QueryFailed("Prometheus answered a malformed result", refused=True) from None
    # A matrix or a string never gives a number per series: no data will ever come.
    raise QueryFailed(
        f"the query gives a {_kind(kind)}, not a number per series: use an instant vector",
        refused=True,
    )


def _bounded(left: float | None) -> float | None:
    # A step that starts just before the deadline still gets its answers from a Prometheus
    # that answers: at most this floor past the deadline, never a query timeout and retries.
    return None if left is None else max(left, QUERY_FLOOR)


def _kind(kind: object) -> str:
    return kind if isinstance(kind, str) and kind.isalpha() and len(kind) < 20 else "result"


async def query(transport: Transport, base_url: str, promql: str) -> list[float]:
    """The values of ``promql`` now; :class:`QueryFailed` says why there are none."""
    return values_of(await query_body(transport, base_url, promql))


async def query_body(
    transport: Transport, base_url: str, promql: str, at: float | None = None
) -> bytes:
    """Prometheus's answer to the instant query ``promql``, now or ``at`` (Unix time)
    (:class:`QueryFailed`: none)."""
    url = base_url.rstrip("/") + "/api/v1/query"
    params = {"query": promql} if at is None else {"query": promql, "time": f"{at:.3f}"}
    try:
        answer = await transport.request("GET", url, params=params, answers=EXPLAINED)
    except TooLarge as exc:  # over MAX_ANSWER: it answered, too much
        raise QueryFailed(f"Prometheus's answer is too large ({exc})") from None
    except SourceError as exc:
        raise QueryFailed(f"Prometheus unreachable ({exc})") from None
    body: bytes = answer.body
    return body


@dataclass(frozen=True)
class Measured:
    """What one query of one gate for one target gave: values, or why none."""

    query: str
    values: tuple[float, ...] = ()
    error: QueryFailed | None = None


def metric_reading(gate: AnalysisGate, seen: Measured) -> GateReading:
    """The gate's answer for one target: pass, fail, or wait (``on_missing: wait``)."""
    name = f"analysis/{gate.name}"
    shown = f"`{seen.query}`"
    numbers = [v for v in seen.values if not math.isnan(v)]

    def reading(verdict: str, message: str) -> GateReading:
        return GateReading(name, verdict, message, gate.hold, gate.on_fail)  # type: ignore[arg-type]

    if seen.error is not None and seen.error.refused:
        return reading("fail", f"{shown}: {seen.error}")
    if seen.error is not None or not numbers:
        why = str(seen.error) if seen.error is not None else "no data"
        if gate.on_missing == "pass":
            return reading("pass", f"{shown}: {why} (on_missing: pass)")
        verdict = "wait" if gate.on_missing == "wait" else "fail"
        return reading(verdict, f"{shown}: {why} (on_missing: {gate.on_missing})")
    top, low = max(numbers), min(numbers)
    if gate.max is not None and top > gate.max:
        return reading("fail", f"{shown} = {top:g}, above max {gate.max:g}")
    if gate.min is not None and low < gate.min:
        return reading("fail", f"{shown} = {low:g}, below min {gate.min:g}")
    value = top if gate.max is not None else low
    return reading("pass", f"{shown} = {value:g} ({gate.bounds()})")


async def measure_all(
    spec: PrometheusSpec,
    environ: Mapping[str, str],
    queries: Sequence[str],
    *,
    left: float | None = None,
    client: HttpClient | None = None,
) -> dict[str, Measured]:
    """Each distinct query, at most :data:`CONCURRENCY` at a time, on one client (``client``:
    the step's shared pool, left open; else one of its own); none waits past ``left`` seconds
    (a command's deadline), its timeout and retries included."""
    where = "analysis.prometheus"
    url = resolve_url(spec.url, environ, where)
    headers = expand_headers(spec.headers, environ, where)
    owned = client is None
    client = client or HttpClient(limit=CONCURRENCY)
    transport = Transport(client, headers=headers, timeout=spec.timeout, max_body=MAX_ANSWER)
    slots = asyncio.Semaphore(CONCURRENCY)

    async def one(promql: str) -> Measured:
        async with slots:
            try:
                asked = query(transport, url, promql)
                values = await asyncio.wait_for(asked, timeout=_bounded(left))
                return Measured(promql, tuple(values))
            except QueryFailed as exc:
                return Measured(promql, error=exc)
            except TimeoutError:  # wait_for's only: the transport maps its own
                late = QueryFailed("the command's --timeout passed before Prometheus answered")
                return Measured(promql, error=late)

    try:
        distinct = list(dict.fromkeys(queries))
        return dict(zip(distinct, await asyncio.gather(*map(one, distinct)), strict=True))
    finally:
        if owned:
            await client.close()
