"""Every config on docs/your-model.md is a valid run config (checked as `atlas run` checks it)."""

import re

import pytest
import yaml

from generator.config import parse_config
from tests.conftest import REPO_ROOT

PAGE = (REPO_ROOT / "docs" / "your-model.md").read_text(encoding="utf-8")
CONFIGS = re.findall(r"```yaml\n(.*?)```", PAGE, flags=re.DOTALL)


def test_the_page_has_its_four_configs():
    assert len(CONFIGS) == 4


@pytest.mark.parametrize("text", CONFIGS, ids=[re.search(r"run_name: (\S+)", c).group(1) for c in CONFIGS])
def test_each_config_parses(text):
    config = parse_config(yaml.safe_load(text), "docs/your-model.md")
    assert config.datasets and config.analyses
