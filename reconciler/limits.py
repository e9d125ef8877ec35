"""Every bound on input, in one place (design §11: every input is bounded).

Pure constants: the config loaders, the renderer, the sources and ``validate`` all read them
from here, so the number a check enforces and the number its message quotes never disagree.
"""

from __future__ import annotations

MiB = 1024 * 1024

#: Largest rendered bundle a source returns or accepts: the fetch cap. A render larger than
#: this is refused before anything is written (it could never read back as in sync).
MAX_DOCUMENT = 16 * MiB

#: Largest YAML file: bundle.yaml, an overlay, an inventory. ruamel's round-trip loader is
#: pure Python (about 0.1 ms a node), so size alone bounds memory, not parse time.
MAX_YAML = 1 * MiB

#: Largest file a bundle names: a prompt text, a tool or output JSON Schema.
MAX_FILE = 4 * MiB

#: Deepest nesting of mappings/sequences (YAML) or objects/arrays (JSON), counted in
#: containers: ``{"a": [1]}`` is 2 deep. Real configs stay under 20; a JSON Schema 30 levels
#: deep is about 60. 64 keeps every recursive step after loading (conversion, validation,
#: canonical digests, the schema diff, each a few frames per level) far from Python's
#: 1000-frame recursion limit, with aliases expanded.
MAX_DEPTH = 64

#: Most nodes (scalars and containers) one YAML file may hold once its aliases are expanded.
#: Aliases share one object, so loading a "billion laughs" file is cheap; converting or
#: validating it is not. A 4,000-target inventory is about 90,000 nodes.
MAX_YAML_NODES = 250_000

#: Range of every network timeout in an inventory (``source.timeout``, ``health.timeout``,
#: ``probe.timeout``): 0 would disable the timeout, and past 5 minutes a silent target holds
#: a whole audit.
MIN_TIMEOUT = 0.1
MAX_TIMEOUT = 300.0

#: Longest duration anything accepts (a bake, a progress deadline): one year. Longer is a
#: typo, and values like ``99999999999999999999d`` overflow date arithmetic.
MAX_DURATION = 366 * 86400.0


def size_text(limit: int) -> str:
    """``16 MiB``, ``512 KiB`` or ``100 bytes``, for messages."""
    if limit % MiB == 0:
        return f"{limit // MiB} MiB"
    if limit % 1024 == 0:
        return f"{limit // 1024} KiB"
    return f"{limit} bytes"
