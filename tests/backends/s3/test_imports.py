"""boto3 is heavy (~0.5 s to import, ~150 ms per client): it loads only for s3 targets, lazily."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def run(code: str) -> None:
    subprocess.run([sys.executable, "-c", textwrap.dedent(code)], check=True)


def test_file_and_http_targets_never_import_boto3() -> None:
    run(
        """
        import asyncio, sys, tempfile
        from reconciler.model.inventory import TargetSpec
        from reconciler.sources import SourceContext, open_source

        async def main():
            with tempfile.TemporaryDirectory() as root:
                async with SourceContext(root, {}) as ctx:
                    for source in (
                        {"type": "file", "path": "fleet/{bundle}.json"},
                        {"type": "http", "url": "http://127.0.0.1:9/{bundle}.json"},
                    ):
                        spec = TargetSpec.model_validate({"name": "t", "source": source})
                        open_source(spec, ctx)

        asyncio.run(main())
        assert "boto3" not in sys.modules and "botocore" not in sys.modules
        """
    )


def test_opening_an_s3_target_creates_no_client_yet() -> None:
    run(
        """
        import asyncio, sys, tempfile
        from reconciler.model.inventory import TargetSpec
        from reconciler.sources import SourceContext, open_source
        from reconciler.sources import s3

        async def main():
            with tempfile.TemporaryDirectory() as root:
                async with SourceContext(root, {}) as ctx:
                    source = {"type": "s3", "bucket": "agents", "key": "{bundle}.json"}
                    open_source(TargetSpec.model_validate({"name": "t", "source": source}), ctx)

        asyncio.run(main())
        assert "boto3" in sys.modules and s3._CLIENTS == {}
        """
    )
