"""``${VAR}`` references in source settings, filled from the environment (design §5).

Expanded values are secrets: no message raised here ever contains one, only variable names,
and every value substituted is remembered by :mod:`reconciler.secrets`, so whatever leaves the
process later (a reason a target reflects the header back in, a log line, state) is scrubbed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from . import secrets
from .errors import ConfigError

# ``${`` opens a reference; whatever follows must be a NAME and a closing brace.
_REFERENCE = re.compile(r"\$\{(?:([A-Za-z_][A-Za-z0-9_]*)\})?")
_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")  # RFC 9110 field name


def expand(
    value: str, env: Mapping[str, str], where: str, encode: Callable[[str], str] | None = None
) -> str:
    """``value`` with every ``${NAME}`` replaced by ``env[NAME]`` (passed through ``encode``
    first when given: a value spliced into a URL is percent-encoded).

    ``where`` names the owner for messages, e.g. ``"target us-east-1"``. A variable that is not
    set, or a ``${`` that is not a well-formed reference, is a :class:`ConfigError`.
    """
    if "${" not in value:
        return value

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        if name is None:
            raise ConfigError(f"{where}: '${{' must start a reference like ${{NAME}}")
        try:
            found = env[name]
        except KeyError:
            raise ConfigError(f"{where}: environment variable {name} is not set") from None
        secrets.remember(found)
        return encode(found) if encode is not None else found

    return _REFERENCE.sub(substitute, value)


def expand_headers(
    headers: Mapping[str, str], env: Mapping[str, str], where: str
) -> dict[str, str]:
    """Expanded header values; a value that would split the HTTP header is a ConfigError."""
    expanded: dict[str, str] = {}
    for name, raw in headers.items():
        if not _TOKEN.match(name):
            raise ConfigError(f"{where}: {name!r} is not a valid HTTP header name")
        value = expand(raw, env, where)
        if "\r" in value or "\n" in value:
            # Name the header only: the value may be the secret itself.
            raise ConfigError(f"{where}: header {name} holds a line break")
        expanded[name] = value
    return expanded
