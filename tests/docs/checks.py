"""check-jsonschema, as CI and editors' users run it: one process for many files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BIN = Path(sys.executable).parent


def check_jsonschema(schema: list[str], files: list[Path]) -> dict[str, list[str]]:
    """Each file's errors (``$.path: message``; an empty list: valid) under ``schema`` (the
    options naming it: ``--schemafile FILE`` or ``--builtin-schema NAME``)."""
    if not files:
        return {}
    run = subprocess.run(
        [str(BIN / "check-jsonschema"), *schema, "-o", "JSON", *map(str, files)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    report = json.loads(run.stdout)
    assert not report.get("parse_errors"), report["parse_errors"]
    errors: dict[str, list[str]] = {str(f): [] for f in files}
    for error in report["errors"]:
        errors[error["filename"]].append(f"{error['path']}: {error['message']}")
    return errors
