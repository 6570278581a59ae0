import pytest

from generator.analyses import list_analyses
from generator.registry import Registry
from generator.render.pages import PAGE_KINDS, SITE_PAGE_KINDS, page_entry_kinds
from generator.render import site  # noqa: F401 - a build registers every site page kind
from generator.render.sections import dataset_sections, example_sections
from generator.results import declarations


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


def test_pages_follow_the_page_order_of_the_declarations():
    assert PAGE_KINDS.names() == ["run", "dataset", "example"]
    orders = [d.page_order for d in declarations()]
    assert orders == sorted(orders) and len(set(orders)) == len(orders)
    # agent runs' timeline comes first on their pages (other pages have no agent section), then the
    # dataset's mechanism summary (shown when two of its panels' analyses ran)
    assert [name for name, _ in dataset_sections()][:3] == ["agent", "mechanism", "attention"]
    assert [name for name, _ in example_sections()][:2] == ["agent", "attention"]
    assert list_analyses()[:2] == ["agent", "attention"]  # the mechanism summary is no analysis


def test_pages_across_runs_are_registered_kinds_and_the_index_comes_last():
    order = [name for name, kind in sorted(SITE_PAGE_KINDS.items(), key=lambda item: item[1].order)]
    assert order == ["agents", "index"]  # the index links to agent runs only when that page was made
    assert {"run", "dataset", "example", "index", "agents", "comparison"} == page_entry_kinds()
