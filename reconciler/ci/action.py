"""The step ``action.yml`` runs: ``python -m reconciler.ci.action``.

Inputs come from the environment, as ``action.yml`` maps them (``INPUT_COMMAND``, ``INPUT_ENV``,
``INPUT_FAIL_ON``, ``INPUT_BASE``, ``INPUT_WORKING_DIRECTORY``). For ``audit`` and ``plan`` it runs
the CLI twice: ``--format json`` into the report file (the outputs are computed from it), then
``--format github`` (the markdown report appended to ``$GITHUB_STEP_SUMMARY``, annotations on
stdout). ``validate`` turns each ``file:line: message`` error into an ``::error`` annotation.
Outputs go to ``$GITHUB_OUTPUT``: ``status``, ``drifted``, ``stalled``, ``report-path``,
``markdown-path`` and ``exit-code``. The process exits with the CLI's exit code (of the JSON run).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

COMMANDS = ("audit", "plan", "validate")
# The worst condition first: the first one present names the status.
_ORDER = ("stalled", "drifted", "unreachable", "invalid", "missing")
_VALIDATE_LINE = re.compile(r"^(?P<file>[^\s:][^:]*?)(?::(?P<line>\d+))?: (?P<message>.+)$")


def _cli(
    repo: Path, args: Sequence[str], env: Mapping[str, str]
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reconciler.cli", "--repo", str(repo), *args],
        capture_output=True,
        text=True,
        env=dict(env),
        stdin=subprocess.DEVNULL,
        check=False,
    )


def status_of(report: Mapping[str, Any] | None, code: int) -> str:
    """One word for the run: error, stalled, drifted, ..., breaking, lagging, failed or ok."""
    if code == 1 or report is None:
        return "error"
    summary = report.get("summary", {})
    if summary.get("stalled"):
        return "stalled"
    for status in _ORDER[1:]:
        if summary.get(status):
            return status
    severities = {
        change.get("severity")
        for target in report.get("targets", [])
        for bundle in target.get("bundles", [])
        for change in bundle.get("changes", [])
    }
    if "breaking" in severities:
        return "breaking"
    if summary.get("lagging"):
        return "lagging"
    return "failed" if code else "ok"


def _escape(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _prefix_files(text: str, prefix: str) -> str:
    """Annotations name files from the config repo's root; GitHub wants them from the workspace."""
    if not prefix:
        return text
    return re.sub(r"^(::\w+ (?:[^:]*,)?file=)", rf"\g<1>{prefix}/", text, flags=re.MULTILINE)


def _write_outputs(outputs: Mapping[str, str], env: Mapping[str, str]) -> None:
    target = env.get("GITHUB_OUTPUT")
    lines = "".join(f"{key}={value}\n" for key, value in outputs.items())
    if target:
        with Path(target).open("a", encoding="utf-8") as handle:
            handle.write(lines)
    else:
        sys.stdout.write(lines)


def _summary_size(env: Mapping[str, str]) -> int:
    path = env.get("GITHUB_STEP_SUMMARY")
    return Path(path).stat().st_size if path and Path(path).exists() else 0


def _summary_since(env: Mapping[str, str], offset: int) -> str:
    path = env.get("GITHUB_STEP_SUMMARY")
    if not path or not Path(path).exists():
        return ""
    with Path(path).open("rb") as handle:
        handle.seek(offset)
        return handle.read().decode("utf-8", "replace")


def run(env: Mapping[str, str]) -> int:
    """Do the action's work under ``env``; return the exit code."""
    command = env.get("INPUT_COMMAND", "audit").strip() or "audit"
    environment = env.get("INPUT_ENV", "").strip()
    fail_on = env.get("INPUT_FAIL_ON", "").strip()
    base = env.get("INPUT_BASE", "").strip()
    workspace = Path(env.get("GITHUB_WORKSPACE") or ".").resolve()
    repo = (workspace / env.get("INPUT_WORKING_DIRECTORY", "").strip()).resolve()
    prefix = os.path.relpath(repo, workspace) if repo != workspace else ""
    if prefix.startswith(".."):
        prefix = ""
    out_dir = Path(env.get("RUNNER_TEMP") or tempfile.gettempdir())
    if command not in COMMANDS:
        print(f"::error title=reconciler::command must be one of {', '.join(COMMANDS)}")
        _write_outputs({"status": "error", "drifted": "0", "stalled": "false"}, env)
        return 1
    if command != "validate" and not environment:
        print(f"::error title=reconciler::the input env is required for {command}")
        _write_outputs({"status": "error", "drifted": "0", "stalled": "false"}, env)
        return 1
    name = f"reconciler-{command}" + (f"-{environment}" if environment else "")
    report_path, markdown_path = out_dir / f"{name}.json", out_dir / f"{name}.md"

    if command == "validate":
        done = _cli(repo, ["validate"], env)
        report_path = out_dir / f"{name}.txt"
        report_path.write_text(done.stdout + done.stderr, encoding="utf-8")
        print(done.stdout, end="")
        for line in done.stderr.splitlines():
            match = _VALIDATE_LINE.match(line)
            if match and not line.startswith(("warning:", "error:")) and "/" in match["file"]:
                where = f"file={prefix + '/' if prefix else ''}{match['file']}"
                if match["line"]:
                    where += f",line={match['line']}"
                print(f"::error {where},title=invalid config::{_escape(match['message'])}")
            else:
                print(line, file=sys.stderr)
        code = done.returncode
        status = "ok" if code == 0 else "invalid" if code == 1 else "error"
        markdown = "### reconciler validate\n\n" + (
            "Every bundle and target file is valid.\n"
            if code == 0
            else "```\n" + done.stderr.strip() + "\n```\n"
        )
        markdown_path.write_text(markdown, encoding="utf-8")
        summary = env.get("GITHUB_STEP_SUMMARY")
        if summary:
            with Path(summary).open("a", encoding="utf-8") as handle:
                handle.write(markdown + "\n")
        _write_outputs(
            {
                "status": status,
                "drifted": "0",
                "stalled": "false",
                "report-path": str(report_path),
                "markdown-path": str(markdown_path),
                "exit-code": str(code),
            },
            env,
        )
        return code

    args = [command, "--env", environment]
    if fail_on:
        args += ["--fail-on", fail_on]
    if base and command == "plan":
        args += ["--base", base]
    done = _cli(repo, [*args, "--format", "json"], env)
    code = done.returncode
    report: dict[str, Any] | None = None
    if code in (0, 2):
        try:
            report = json.loads(done.stdout)
        except ValueError:
            report = None
            code = 1
    sys.stderr.write(done.stderr)
    if report is not None:
        report_path.write_text(done.stdout, encoding="utf-8")
        before = _summary_size(env)
        github = _cli(repo, [*args, "--format", "github"], env)
        sys.stderr.write(github.stderr)
        if env.get("GITHUB_STEP_SUMMARY"):
            markdown = _summary_since(env, before)
        else:  # no summary file: the CLI printed the markdown first, then the annotations
            markdown = _cli(repo, [*args, "--format", "markdown"], env).stdout
        for line in github.stdout.splitlines():
            if line.startswith("::"):
                print(_prefix_files(line, prefix))
        markdown_path.write_text(markdown, encoding="utf-8")
    else:
        message = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "failed"
        print(f"::error title=reconciler {command}::{_escape(message)}")
    summary = (report or {}).get("summary", {})
    _write_outputs(
        {
            "status": status_of(report, code),
            "drifted": str(int(summary.get("drifted", 0))),
            "stalled": "true" if summary.get("stalled") else "false",
            "report-path": str(report_path) if report is not None else "",
            "markdown-path": str(markdown_path) if report is not None else "",
            "exit-code": str(code),
        },
        env,
    )
    return code


def main() -> None:
    sys.exit(run(os.environ))


if __name__ == "__main__":
    main()
