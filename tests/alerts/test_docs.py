"""docs/alerts.md: every ``targets/<env>.yaml`` example is a valid inventory."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from reconciler.model.inventory import Inventory

DOC = Path(__file__).resolve().parents[2] / "docs" / "alerts.md"
BLOCKS = re.findall(r"```yaml\n(.*?)```", DOC.read_text(), flags=re.S)


def test_the_page_has_an_example_per_type() -> None:
    text = "\n".join(BLOCKS)
    for kind in ("pagerduty", "slack", "github", "webhook"):
        assert f"type: {kind}" in text


@pytest.mark.parametrize("block", BLOCKS, ids=range(len(BLOCKS)))
def test_every_yaml_example_is_a_valid_inventory(block: str) -> None:
    assert block.startswith("# targets/")
    Inventory.model_validate(YAML(typ="safe").load(block))
