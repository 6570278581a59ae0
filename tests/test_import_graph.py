"""The package's import graph: no cycles, and no import inside a function that could hide one.

Read statically (ast), counting imports at any depth, so a cycle cannot hide in a function.
"""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "generator"
# Function-level imports of our own modules that exist for an optional dependency, not a cycle.
ALLOWED_LATE_IMPORTS = {("generator.capture.attention", "generator.capture.fused_attention")}  # needs Triton
# Stages that must not reach into each other (importer -> imported module prefixes it may not use).
FORBIDDEN = {
    "generator.store": ("generator.analyses", "generator.capture", "generator.render", "generator.results",
                        "generator.importers", "generator.pipeline", "generator.config"),
    "generator.results": ("generator.analyses", "generator.capture", "generator.render", "generator.importers"),
    "generator.render": ("generator.analyses", "generator.capture", "generator.pipeline", "generator.importers"),
    "generator.capture": ("generator.analyses", "generator.render", "generator.config", "generator.pipeline"),
    "generator.importers": ("generator.analyses", "generator.capture", "generator.render"),
    "generator.analyses": ("generator.render", "generator.importers", "generator.pipeline", "generator.config"),
}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in PACKAGE.rglob("*.py")}


def imports(path: Path, known: dict[str, Path]) -> list[tuple[str, bool]]:
    """(imported module, inside a function?) for every import of our package in ``path``."""
    found = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            nested = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(child, ast.Import):
                found.extend((a.name, nested) for a in child.names if a.name.startswith("generator"))
            elif isinstance(child, ast.ImportFrom) and child.module and child.module.startswith("generator"):
                for alias in child.names:
                    submodule = f"{child.module}.{alias.name}"
                    found.append((submodule if submodule in known else child.module, nested))
            visit(child, nested)

    visit(ast.parse(path.read_text(encoding="utf-8")), False)
    return found


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: {target for target, _ in imports(path, known)} for name, path in known.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), or a module importing itself."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in edges.get(node, ()):
            if target not in index:
                connect(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1 or node in edges.get(node, ()):
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            connect(node)
    return found


def test_the_import_graph_has_no_cycles():
    assert cycles(graph()) == []


def test_no_function_level_import_of_our_own_modules():
    known = modules()
    late = sorted((name, target) for name, path in known.items() for target, nested in imports(path, known)
                  if nested and (name, target) not in ALLOWED_LATE_IMPORTS)
    assert late == []


def test_stages_do_not_reach_into_each_other():
    crossings = sorted((name, target) for name, targets in graph().items() for target in targets
                       for stage, banned in FORBIDDEN.items() if name.startswith(stage)
                       and target.startswith(banned))
    assert crossings == []


def test_the_checker_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"a"}}) == [["a"]]


def test_the_architecture_page_states_the_same_boundaries():
    """docs/architecture.md's table says what each stage never imports: the same pairs as FORBIDDEN."""
    import re

    table = (PACKAGE.parent / "docs" / "architecture.md").read_text(encoding="utf-8")
    stated = {}
    for row in table.splitlines():
        cells = [cell.strip() for cell in row.strip().strip("|").split("|")]
        folder = re.search(r"`generator/(\w+)/`", cells[1]) if len(cells) == 5 else None
        if folder:
            stated[f"generator.{folder.group(1)}"] = {f"generator.{name.strip()}" for name in cells[4].split(",")
                                                      if name.strip() not in ("", "—")}
    assert stated == {stage: set(banned) for stage, banned in FORBIDDEN.items()}


def test_a_site_build_loads_no_stage_it_does_not_use_and_the_public_names_resolve():
    """The package's ``__init__`` imports its public names on first use: importing the site builder (what every
    build and render worker does) loads neither the analyses, the capture code, the agent loop nor the run config."""
    import subprocess
    import sys

    code = ("import sys, generator.render.site; "
            "print(sorted({m for m in sys.modules if m.startswith(('generator.analyses', 'generator.capture', "
            "'generator.agent.loop', 'generator.config', 'generator.pipeline'))}))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                            cwd=PACKAGE.parent).stdout.strip()
    assert loaded == "[]"
    import generator
    from generator import Run, RunConfig, load_config, load_run
    from generator.config import RunConfig as config_class

    assert RunConfig is config_class and callable(load_config) and callable(load_run) and Run.__name__ == "Run"
    assert set(generator.__all__) <= set(dir(generator))
