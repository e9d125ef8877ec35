"""The registry is a closed mapping that covers every ``SourceSpec`` type, and nothing more."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import typing
from pathlib import Path

from reconciler.model.inventory import SourceSpec
from reconciler.sources import Source, SourceContext, open_source
from reconciler.sources.registry import FACTORIES

from .support import target

EXAMPLES = {
    "file": {"type": "file", "path": "fleet/{bundle}.json"},
    "http": {"type": "http", "url": "http://127.0.0.1:9/{bundle}.json"},
    "s3": {"type": "s3", "bucket": "agents", "key": "{bundle}.json", "region": "us-east-1"},
    "mlflow": {"type": "mlflow", "url": "http://127.0.0.1:9", "headers": {"X-Team": "agents"}},
    "unleash": {"type": "unleash", "url": "http://127.0.0.1:9", "environment": "dev", "token": "t"},
}


def spec_types() -> set[str]:
    union = typing.get_args(SourceSpec)[0]  # Annotated[Union[...], discriminator]
    return {
        value
        for model in typing.get_args(union)
        for value in typing.get_args(model.model_fields["type"].annotation)
    }


def test_every_source_spec_type_has_a_factory_and_no_other() -> None:
    assert set(FACTORIES) == spec_types()
    assert set(EXAMPLES) == spec_types()  # so the next test opens every type


def test_every_type_opens_into_a_source(tmp_path: Path) -> None:
    async def main() -> None:
        async with SourceContext(tmp_path, {}) as ctx:
            for example in EXAMPLES.values():
                for health in (None, {"url": "http://127.0.0.1:9/healthz"}):
                    source = open_source(target(example, health=health), ctx)
                    assert isinstance(source, Source)

    asyncio.run(main())


def test_importing_sources_for_file_targets_does_not_load_aiohttp() -> None:
    code = "import sys, reconciler.sources; assert 'aiohttp' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
