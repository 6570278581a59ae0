import pytest

from generator.analyses import ANALYSES
from generator.registry import Registry
from generator.render.pages import PAGE_KINDS
from generator.render.sections import DATASET_SECTIONS, EXAMPLE_SECTIONS


def test_items_come_back_in_registration_order():
    registry = Registry("thing")
    for name in ("zeta", "alpha", "mid"):
        registry.register(name, name.upper())
    assert registry.names() == ["zeta", "alpha", "mid"]
    assert [v for _, v in registry.items()] == ["ZETA", "ALPHA", "MID"]
    with pytest.raises(ValueError, match="registered twice"):
        registry.register("alpha", "again")
    with pytest.raises(KeyError, match="unknown thing 'beta'; known: zeta, alpha, mid"):
        registry.get("beta")
    registry.unregister("zeta")
    assert "zeta" not in registry


def test_pages_follow_the_registration_order_of_their_modules():
    assert PAGE_KINDS.names() == ["run", "dataset", "example"]
    assert ANALYSES.names()[0] == "attention"
    # agent runs' timeline comes first on their pages (other pages have no agent section), then the
    # dataset's mechanism summary (shown when two of its panels' analyses ran)
    assert DATASET_SECTIONS.names()[:3] == ["agent", "mechanism", "attention"]
    assert EXAMPLE_SECTIONS.names()[:2] == ["agent", "attention"]
