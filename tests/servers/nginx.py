"""A real nginx (Debian's nginx-light) standing in for a CDN POP: serves a folder, takes PUTs.

Started on 127.0.0.1 and a free port with ``daemon off``, stopped with SIGQUIT. Besides the
WebDAV root it answers a few fixed locations the source tests need (see :data:`CONFIG`).
"""

from __future__ import annotations

import itertools
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tests.servers.process import free_port

NGINX = Path("/usr/sbin/nginx")
#: /private/ answers 401 unless the request carries exactly this Authorization header.
PRIVATE_AUTHORIZATION = "Bearer pop-test-token-4f1d9c"

#: ``{...}`` fields are filled in by :func:`running_nginx`; nginx's own braces are doubled.
CONFIG = """\
{user}
daemon off;
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 8192; }}
http {{
    access_log off;
    log_format dav '$request_method $uri $status';
    types {{ application/json json; text/plain txt; }}
    default_type application/octet-stream;
    keepalive_requests 100000;
    # Temp files live beside the root: a PUT body is written there, then renamed into place.
    client_body_temp_path {prefix}/tmp/body;
    proxy_temp_path {prefix}/tmp/proxy;
    fastcgi_temp_path {prefix}/tmp/fastcgi;
    uwsgi_temp_path {prefix}/tmp/uwsgi;
    scgi_temp_path {prefix}/tmp/scgi;
    # Never answers: waiting on it for {latency_ms} ms is how /slow/ adds latency.
    upstream blackhole {{ server 127.0.0.1:{blackhole_port} max_fails=0; }}
    server {{
        listen 127.0.0.1:{port};
        root {root};
        client_max_body_size 64m;
        location / {{
            dav_methods PUT DELETE;
            create_full_put_path on;
            dav_access user:rw group:r all:r;
        }}
        # WebDAV with COPY (design §12: a staged copy switched server-side); logged, so a test
        # can tell a switch (COPY, no body) from an upload (PUT).
        location /dav/ {{
            dav_methods PUT DELETE COPY;
            create_full_put_path on;
            dav_access user:rw group:r all:r;
            access_log {prefix}/dav.log dav;
        }}
        location = /healthz {{ return 200 "ok\\n"; }}
        location /private/ {{
            if ($http_authorization != "{authorization}") {{ return 401; }}
        }}
        # Always 503; each request is logged, so a test can count attempts.
        location /unavailable/ {{
            access_log {prefix}/unavailable.log;
            return 503;
        }}
        # Gzip makes nginx answer chunked, without Content-Length.
        location /gzip/ {{
            gzip on;
            gzip_types *;
            gzip_min_length 0;
        }}
        # /slow/<path> is <path> after {latency_ms} ms: the proxy gives up, then serves the file.
        location /slow/ {{
            proxy_pass http://blackhole;
            proxy_connect_timeout {latency_ms}ms;
            proxy_send_timeout {latency_ms}ms;
            proxy_read_timeout {latency_ms}ms;
            error_log /dev/null crit;
            error_page 502 504 = @after_delay;
        }}
        location @after_delay {{ rewrite ^/slow(/.*)$ $1 break; }}
    }}
}}
"""


class NginxUnavailable(RuntimeError):
    """nginx is not installed, or did not start; the message says which and what to do."""


@dataclass
class Nginx:
    """A running nginx: files under ``root`` are served at ``url(path)``."""

    root: Path
    port: int
    prefix: Path
    latency_ms: int
    process: subprocess.Popen[bytes]
    _blackhole: socket.socket
    _served: Iterator[int] = field(default_factory=itertools.count)

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}/{path.lstrip('/')}"

    def slow_url(self, path: str) -> str:
        """The same document, answered after ``latency_ms`` (GET only)."""
        return self.url("slow/" + path.lstrip("/"))

    def serve(self, directory: Path) -> str:
        """Serve (and accept PUTs into) another folder too; returns its base URL, ending in /."""
        name = f"_served/{next(self._served)}"
        link = self.root / name
        link.parent.mkdir(exist_ok=True)
        link.symlink_to(directory.resolve(), target_is_directory=True)
        return self.url(name + "/")

    def dav_log(self) -> list[tuple[str, str, int]]:
        """(method, path, status) of every request under /dav/ so far."""
        path = self.prefix / "dav.log"
        lines = path.read_text().splitlines() if path.exists() else []
        return [(m, u, int(s)) for m, u, s in (line.split(" ") for line in lines)]

    def error_log(self) -> str:
        path = self.prefix / "error.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGQUIT)  # graceful: finish requests, then exit
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._blackhole.close()


def _start(prefix: Path, root: Path, latency_ms: int) -> Nginx:
    for folder in ("tmp/body", "tmp/proxy", "tmp/fastcgi", "tmp/uwsgi", "tmp/scgi"):
        (prefix / folder).mkdir(parents=True, exist_ok=True)
    blackhole = socket.socket()
    blackhole.bind(("127.0.0.1", 0))
    blackhole.listen(4096)  # never accepted: connections wait in the backlog until nginx gives up
    port = free_port()
    conf = prefix / "nginx.conf"
    conf.write_text(
        CONFIG.format(
            # As root, nginx would run its workers as nobody, who cannot read a 0700 tmp folder.
            user="user root root;" if os.geteuid() == 0 else "",
            prefix=prefix,
            root=root,
            port=port,
            latency_ms=latency_ms,
            blackhole_port=blackhole.getsockname()[1],
            authorization=PRIVATE_AUTHORIZATION,
        )
    )
    (prefix / "error.log").unlink(missing_ok=True)
    process = subprocess.Popen(
        [str(NGINX), "-p", str(prefix), "-c", str(conf)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    server = Nginx(root, port, prefix, latency_ms, process, blackhole)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            server.stop()
            raise NginxUnavailable(f"nginx exited at start:\n{server.error_log()[-2000:]}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return server
        except OSError:
            time.sleep(0.01)
    server.stop()
    raise NginxUnavailable(f"nginx did not listen within 10 s:\n{server.error_log()[-2000:]}")


@contextmanager
def running_nginx(prefix: Path, root: Path | None = None, latency_ms: int = 20) -> Iterator[Nginx]:
    """nginx serving ``root`` (default ``prefix/www``), with its config and logs in ``prefix``."""
    if not NGINX.exists():
        raise NginxUnavailable(
            f"{NGINX} is missing: install Debian's nginx-light (tests/servers/install.sh)"
        )
    root = root if root is not None else prefix / "www"
    root.mkdir(parents=True, exist_ok=True)
    for attempt in range(3):
        try:
            server = _start(prefix, root, latency_ms)
            break
        except NginxUnavailable as exc:
            # Another process may take the free port between our probe and nginx's bind.
            if "Address already in use" not in str(exc) or attempt == 2:
                raise
    try:
        yield server
    finally:
        server.stop()
