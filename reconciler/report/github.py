"""GitHub Actions output: the markdown report to the job summary, annotations to stdout.

Both are scrubbed of every known secret here (design §11): the summary is a file the CLI's
output path never sees, and an annotation's escaping (``%25``) would hide a secret from it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from ..audit.locate import Locator
from ..audit.results import Audit
from ..diff.change import Severity
from ..display import visible
from ..model.codes import FindingCode, Level
from ..model.status import Status
from ..secrets import scrub
from .markdown import render_markdown

_LEVEL = {Severity.BREAKING: "error", Severity.BEHAVIORAL: "warning"}
#: Targets that could not be judged: each gets an error on the inventory line declaring it.
_UNOBSERVED = (Status.UNREACHABLE, Status.INVALID, Status.MISSING)


def _escape(text: str) -> str:
    """Annotation messages are one line; GitHub decodes %0A, %25 and %0D."""
    return scrub(text).replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def annotation_lines(audit: Audit, locator: Locator) -> list[str]:
    """One ``::error``/``::warning`` per distinct (file, line, message), most severe first.

    Changes point at the bundle file that holds them; every unreachable, invalid or missing
    target at the line of the inventory that declares it.
    """
    seen: set[tuple[str, int, str]] = set()
    lines: list[str] = []
    for target in audit.targets:
        if target.status in _UNOBSERVED:
            file, line = locator.target(audit.environment, target.name)
            reason = f": {target.error}" if target.error else ""
            lines.append(
                f"::error file={file},line={line}::"
                + _escape(f"{target.name}: {target.status}{reason}")
            )
        for bundle in target.bundles:
            for change in bundle.changes:
                level = _LEVEL.get(change.severity)
                if level is None:
                    continue
                file, line = locator.locate(bundle.bundle, change)
                message = f"{change.severity}: {change.component}: {change.summary}"
                key = (file, line, message)
                if key in seen:
                    continue
                seen.add(key)
                lines.append(
                    f"::{level} file={file},line={line}::"
                    + _escape(f"{message} (on {target.name}, which runs {bundle.status})")
                )
    for finding in audit.findings:
        if finding.code == FindingCode.BREAKING:
            continue  # already annotated on the file
        level = "error" if finding.level == Level.ERROR else "warning"
        where = f"{finding.target}: " if finding.target else ""
        lines.append(f"::{level}::" + _escape(f"{finding.code}: {where}{finding.message}"))
    lines.sort(key=lambda text: not text.startswith("::error"))
    return lines


def render_github(
    audit: Audit, tags: Mapping[str, str], failures: list[str], locator: Locator
) -> str:
    """Append the markdown report to ``$GITHUB_STEP_SUMMARY``; return the annotations."""
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    markdown = scrub(visible(render_markdown(audit, tags, failures)))
    if summary:
        with Path(summary).open("a", encoding="utf-8") as handle:
            handle.write(markdown + "\n")
    out = annotation_lines(audit, locator)
    if not summary:
        out = [markdown, *out]
    return "\n".join(out)
