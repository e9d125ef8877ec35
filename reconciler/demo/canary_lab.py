"""The demo canary act's stand-ins (design §12.1), in one local HTTP server: an Unleash admin API
(the few calls the reconciler's Unleash source makes, features kept in memory) and a Prometheus
``query_range`` that answers from simulated traffic. The traffic follows the release flag: at
each moment, the canary weight last written sends that share of every segment's requests to the
canary digest, whose refusal rate is ``refusals(digest, segment)``.

Demo only: the tests run the same act against nothing else, and the real servers are what the
test suite's end-to-end canary test uses.
"""

from __future__ import annotations

import bisect
import itertools
import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

SEGMENTS = ("en", "es", "de")
RATE = 16.0  #: requests a second per segment


class Lab:
    """Features (Unleash) and the release flag's weight history (for the traffic)."""

    def __init__(
        self, clock: Callable[[], float], refusals: Callable[[str, str], float], flag: str
    ) -> None:
        self.clock = clock
        self.refusals = refusals
        self.flag = flag
        self.features: dict[str, dict[str, Any]] = {}
        self.history: list[tuple[float, int, str, str]] = []  #: (at, weight, stable, canary)
        self.lock = threading.Lock()
        self._ids = 0

    # -- Unleash -------------------------------------------------------------------------

    def unleash(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        parts = path.strip("/").split("/")
        with self.lock:
            if parts == ["projects"]:
                return 200, {"projects": [{"id": "default"}]}
            if parts == ["projects", "default", "features"]:
                if method == "GET":
                    listed = [{"name": n, **_brief(f)} for n, f in self.features.items()]
                    return 200, {"features": listed}
                if body["name"] in self.features:
                    return 409, {"message": "exists"}
                self.features[body["name"]] = {
                    "name": body["name"],
                    "description": body.get("description", ""),
                    "environments": [{"name": "production", "enabled": False, "strategies": []}],
                }
                return 201, self.features[body["name"]]
            name = parts[3] if len(parts) > 3 else ""
            feature = self.features.get(name)
            if feature is None:
                return 404, {"message": f"{name} not found"}
            env = feature["environments"][0]
            rest = parts[4:]
            if not rest:
                if method == "PATCH":
                    feature["description"] = body[0]["value"]
                return 200, feature
            if rest[-1] in ("on", "off"):
                env["enabled"] = rest[-1] == "on"
                return 200, {}
            strategies = env["strategies"]
            if method == "POST":
                self._ids += 1
                strategies.append({**body, "id": f"s{self._ids}"})
            elif method == "PUT":
                at = next(i for i, s in enumerate(strategies) if s["id"] == rest[-1])
                strategies[at] = {**body, "id": rest[-1]}
            elif method == "DELETE":
                env["strategies"] = [s for s in strategies if s["id"] != rest[-1]]
            if name == self.flag and method in ("POST", "PUT"):
                self._note(body)
            return 200, {}

    def _note(self, strategy: dict[str, Any]) -> None:
        payloads = {v["name"]: json.loads(v["payload"]["value"]) for v in strategy["variants"]}
        weight = next(v["weight"] for v in strategy["variants"] if v["name"] == "canary")
        stable, canary = payloads["stable"]["digest"], payloads["canary"]["digest"]
        self.history.append((self.clock(), weight, stable, canary))

    # -- Prometheus --------------------------------------------------------------------------

    def query_range(self, query: str, start: float, end: float, step: float) -> dict[str, Any]:
        """Each (digest, segment)'s requests (or refusals) over each ``step`` up to a point."""
        refusals = "refusal" in query
        series: dict[tuple[str, str], list[list[object]]] = {}
        t = start
        while t <= end + 1e-9:
            for (digest, segment), count in self._served(t - step, t).items():
                value = count * self.refusals(digest, segment) if refusals else count
                series.setdefault((digest, segment), []).append([t, str(value)])
            t += step
        result = [
            {"metric": {"digest": d, "segment": s}, "values": values}
            for (d, s), values in sorted(series.items())
        ]
        return {"status": "success", "data": {"resultType": "matrix", "result": result}}

    def _served(self, a: float, b: float) -> dict[tuple[str, str], float]:
        """Requests each digest served per segment between ``a`` and ``b``."""
        with self.lock:
            history = list(self.history)
        if not history:
            return {}
        times = [h[0] for h in history]
        out: dict[tuple[str, str], float] = {}
        edges = sorted({a, b, *(t for t in times if a < t < b)})
        for lo, hi in itertools.pairwise(edges):
            at = bisect.bisect_right(times, lo) - 1
            if at < 0:
                continue
            _, weight, stable, canary = history[at]
            for segment in SEGMENTS:
                total = RATE * (hi - lo)
                for digest, share in ((canary, weight / 1000), (stable, 1 - weight / 1000)):
                    if share > 0:
                        key = (digest, segment)
                        out[key] = out.get(key, 0.0) + total * share
        return out


def _brief(feature: dict[str, Any]) -> dict[str, Any]:
    return {"description": feature["description"], "archived": False}


def handler(lab: Lab) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _answer(self, status: int, body: Any) -> None:
            raw = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def _route(self, method: str) -> None:
            url = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length)) if length else None
            if url.path == "/unleash/health":
                self._answer(200, {"health": "GOOD"})
            elif url.path.startswith("/unleash/api/admin/"):
                self._answer(
                    *lab.unleash(method, url.path.removeprefix("/unleash/api/admin/"), body)
                )
            elif url.path == "/prom/api/v1/query_range":
                q = {k: v[0] for k, v in parse_qs(url.query).items()}
                found = lab.query_range(
                    q["query"], float(q["start"]), float(q["end"]), float(q["step"])
                )
                self._answer(200, found)
            else:
                self._answer(404, {"message": "no such path"})

        def do_GET(self) -> None:
            self._route("GET")

        def do_POST(self) -> None:
            self._route("POST")

        def do_PUT(self) -> None:
            self._route("PUT")

        def do_PATCH(self) -> None:
            self._route("PATCH")

        def do_DELETE(self) -> None:
            self._route("DELETE")

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


class LabServer:
    """The lab on 127.0.0.1 and a free port, in a thread, while inside ``with``."""

    def __init__(self, lab: Lab) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler(lab))
        self.port = int(self.server.server_address[1])
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> LabServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
