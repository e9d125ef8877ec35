"""Name templates such as ``prompt_name: "{bundle}.{prompt}"``: a component's name in a backend,
and back again (a backend lists names; the template's regex says which are the bundle's)."""

from __future__ import annotations

import re

from ..errors import ConfigError

_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
#: A component name as model.names.check_name allows it.
_NAME = r"[A-Za-z0-9](?:[A-Za-z0-9_-]|\.(?!\.))*"


class NameTemplate:
    """``{bundle}`` and exactly one ``{<item>}``; literals restricted to what the backend allows."""

    def __init__(
        self, template: str, *, key: str, item: str, literal: str, allowed: str, where: str
    ) -> None:
        parts = _PLACEHOLDER.split(template)  # literal, placeholder, literal, ...
        literals, placeholders = parts[0::2], parts[1::2]
        unknown = sorted(set(placeholders) - {"bundle", item})
        if unknown:
            raise ConfigError(f"{where}: {key} {template!r} has unknown {{{unknown[0]}}}")
        if placeholders.count(item) != 1:
            raise ConfigError(f"{where}: {key} {template!r} must hold {{{item}}} once")
        if not all(re.fullmatch(literal, text) for text in literals):
            raise ConfigError(
                f"{where}: {key} {template!r} may hold only letters, digits, {allowed} and the "
                f"placeholders {{bundle}} and {{{item}}}"
            )
        self.template = template
        self.item = item
        self._parts = parts

    def name(self, bundle: str, item: str) -> str:
        return self.template.replace("{bundle}", bundle).replace("{" + self.item + "}", item)

    def like(self, bundle: str) -> str:
        """A SQL LIKE pattern matching every name of ``bundle`` (``_`` may match more)."""
        return self.name(bundle, "%")

    def matcher(self, bundle: str) -> re.Pattern[str]:
        """Full-matches the names of ``bundle``; the group named like the item is its name."""
        return re.compile(
            "".join(
                re.escape(part)
                if index % 2 == 0
                else re.escape(bundle)
                if part == "bundle"
                else f"(?P<{self.item}>{_NAME})"
                for index, part in enumerate(self._parts)
            )
        )
