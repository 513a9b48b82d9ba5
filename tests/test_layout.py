"""The layout shows the architecture: imports run one way, from the command line down to shared/,
and no module imports another that imports it back (checked on the source, every import
statement counted, those inside functions too)."""
from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("shared", "impl_torch", "impl_tf", "impl_jax", "benchmarks")

# Layers, lowest first: a module may import its own layer and the ones below, never above.
LAYERS = (
    ("shared",),  # framework-neutral: data, weights, batches, the twin contract, the registry
    ("impl_",),  # the twins, one package per framework
    ("benchmarks.model",),  # cases, phases, sweeps, options: what a run is made of
    ("benchmarks.analysis",),  # the reader of run folders and the statistics
    ("benchmarks.harness", "benchmarks.reports", "benchmarks.plain"),  # measuring; writing reports
    ("benchmarks.commands", "benchmarks.cli", "benchmarks"),  # the command line
)


def layer(module: str) -> int:
    """The layer of the longest prefix that names the module (benchmarks.model.cases: model)."""
    matches = [(len(p), i) for i, prefixes in enumerate(LAYERS) for p in prefixes
               if module == p or module.startswith(p if p.endswith("_") else p + ".")]
    assert matches, f"{module} belongs to no layer"
    return max(matches)[1]


def modules() -> dict[str, Path]:
    out = {}
    for package in PACKAGES:
        for f in (REPO / package).rglob("*.py"):
            parts = f.relative_to(REPO).with_suffix("").parts
            out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = f
    return out


def imports(name: str, path: Path, known: dict) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names}
    return {m for m in found if m in known and m != name}


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports(name, path, known) for name, path in known.items()}


def upward(g: dict[str, set[str]]) -> list[str]:
    return [f"{a} -> {b}" for a, deps in g.items() for b in deps if layer(b) > layer(a)]


def cycles(g: dict[str, set[str]]) -> list[list[str]]:
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    found = []

    def visit(node, path):
        state[node] = 1
        for nxt in sorted(g.get(node, ())):
            if state.get(nxt) == 1:
                found.append(path[path.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = 2
    for n in sorted(g):
        if n not in state:
            visit(n, [n])
    return found


def test_imports_never_go_up_a_layer():
    assert not upward(graph()), upward(graph())


def test_no_import_cycle():
    assert not cycles(graph()), cycles(graph())


def test_the_checks_can_fail():
    assert [layer(m) for m in ("shared.registry", "impl_torch.twin", "benchmarks.model.cases",
                               "benchmarks.analysis.rundata", "benchmarks.harness.runner",
                               "benchmarks.reports.report", "benchmarks.commands.run", "benchmarks.cli")] == [
        0, 1, 2, 3, 4, 4, 5, 5]
    made_up = {"benchmarks.analysis.rundata": {"benchmarks.reports.report"},
               "benchmarks.reports.report": {"benchmarks.analysis.rundata"}}
    assert upward(made_up) == ["benchmarks.analysis.rundata -> benchmarks.reports.report"]
    assert cycles(made_up) == [["benchmarks.analysis.rundata", "benchmarks.reports.report",
                                "benchmarks.analysis.rundata"]]


def test_every_module_that_names_the_repository_finds_it():
    # modules moved between layers must still find the checkout (regenerate lines, test files)
    import importlib
    for name in ("benchmarks.harness.runner", "benchmarks.reports.report_figures", "benchmarks.commands.report"):
        assert importlib.import_module(name).REPO == REPO, name
