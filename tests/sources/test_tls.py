"""TLS trust is read at the first handshake, not when aiohttp is imported (sources/tls.py): a
fleet of http targets never reads the CA store, and an https target is verified against the
same store as before (trusted when the store holds its certificate, refused when not)."""

from __future__ import annotations

import json
import socket
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from reconciler.sources.tls import DeferredTrust, deferred_trust
from tests.servers.webhook import self_signed

BODY = b'{"ok": true}'


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def serving(tls: tuple[Path, Path] | None = None) -> Iterator[str]:
    """A GET server on 127.0.0.1 (HTTPS with ``tls``: cert, key); its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    if tls is not None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*tls)
        server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    scheme = "http" if tls is None else "https"
    try:
        yield f"{scheme}://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def store(ca: Path | None, tmp_path: Path) -> dict[str, str]:
    """Environment variables that make the default CA store ``ca`` alone (None: empty)."""
    empty = tmp_path / "no-certs"
    empty.mkdir(exist_ok=True)
    missing = tmp_path / "no-such-bundle.pem"
    return {"SSL_CERT_FILE": str(ca or missing), "SSL_CERT_DIR": str(empty)}


def handshake(context: ssl.SSLContext, url: str) -> None:
    port = int(url.rsplit(":", 1)[1])
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname="127.0.0.1"),
    ):
        pass


def test_a_deferred_context_reads_the_store_at_its_first_handshake(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cert, key = self_signed(tmp_path)
    with deferred_trust():
        context = ssl.create_default_context()
    assert type(context) is DeferredTrust
    assert context.verify_mode is ssl.CERT_REQUIRED and context.check_hostname
    assert context.cert_store_stats()["x509"] == 0  # nothing read yet
    assert type(ssl.create_default_context()) is ssl.SSLContext  # the patch is gone
    # The store is read when the handshake comes: the environment then decides it.
    for name, value in store(cert, tmp_path).items():
        monkeypatch.setenv(name, value)
    with serving((cert, key)) as url:
        handshake(context, url)
    assert context.cert_store_stats()["x509"] == 1


def test_a_deferred_context_refuses_a_certificate_the_store_lacks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cert, key = self_signed(tmp_path)
    with deferred_trust():
        context = ssl.create_default_context()
    for name, value in store(None, tmp_path).items():
        monkeypatch.setenv(name, value)
    with serving((cert, key)) as url, pytest.raises(ssl.SSLCertVerificationError):
        handshake(context, url)


#: In a fresh interpreter (aiohttp first imported by the sources): an http fetch, then an https
#: one; what each returned and how many certificates aiohttp's verifying context had read.
SCRIPT = """
import asyncio, json, sys
from reconciler.sources.rest import HttpClient, Transport
from reconciler.sources.interface import SourceError
import aiohttp.connector

def read():
    return aiohttp.connector._SSL_CONTEXT_VERIFIED.cert_store_stats()["x509"]

async def main():
    client = HttpClient()
    transport = Transport(client, headers={}, timeout=5, max_body=1 << 20)
    seen = {"imported": read()}
    try:
        for name, url in (("http", sys.argv[1]), ("https", sys.argv[2])):
            try:
                seen[name] = (await transport.request("GET", url, retry=False)).body.decode()
            except SourceError as exc:
                seen[name] = f"{type(exc).__name__}: {exc}"
            seen[f"after {name}"] = read()
    finally:
        await client.close()
    print(json.dumps(seen))

asyncio.run(main())
"""


@pytest.mark.parametrize("trusted", [True, False])
def test_the_http_client_reads_the_store_only_for_https(trusted: bool, tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    with serving() as plain, serving((cert, key)) as secure:
        done = subprocess.run(
            [sys.executable, "-c", SCRIPT, plain + "/a.json", secure + "/a.json"],
            capture_output=True,
            text=True,
            env={"PATH": "/usr/bin:/bin", **store(cert if trusted else None, tmp_path)},
            timeout=60,
            check=True,
        )
    seen = json.loads(done.stdout)
    assert seen["imported"] == 0
    assert seen["http"] == BODY.decode()
    assert seen["after http"] == 0  # a plain http target never reads the CA store
    if trusted:
        assert seen["https"] == BODY.decode()
        assert seen["after https"] == 1
    else:
        assert seen["https"] == "PermanentError: TLS certificate verification failed"
