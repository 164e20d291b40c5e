"""The package's import graph: one-way layers, no cycles, no hidden function-local imports.

Imports are read from the source (ast), so a cycle held open by an import inside a function is found
too. Imports under `if TYPE_CHECKING:` are annotations only and are not edges.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT

PACKAGE = ROOT / "components" / "inferstack"

#: Each module's layer: the first matching prefix wins (longest prefixes first).
LAYER_OF = {
    "inferstack.contract": "contract",
    "inferstack.catalog": "catalog",
    "inferstack.spec": "spec",
    "inferstack.plan": "plan",
    "inferstack.engines": "engines",
    "inferstack.kube": "kube",
    "inferstack.monitoring": "monitoring",
    "inferstack.compliance": "compliance",
    "inferstack.clouds": "clouds",
    "inferstack.deployment": "deployment",
    "inferstack.platform": "deployment",
    "inferstack.globaldns": "deployment",
    "inferstack.program": "program",
    "inferstack.offline": "offline",
    "inferstack.check": "check",
    "inferstack.policy_pack": "policy_pack",
    "inferstack.fetcher": "fetcher",
    "inferstack.render": "render",
    "inferstack.report": "report",
    "inferstack.cli": "cli",
    "inferstack.calibrate": "calibrate",
    "inferstack": "package",
}

#: The allowed edges between layers (a layer may always import itself). The one-way order is
#: contract, catalog <- spec <- plan <- engines <- kube/monitoring <- clouds <- deployment <- program;
#: compliance rules see spec and catalog only, never Pulumi; the offline runner and `check` sit
#: beside the CLI that uses them, and the CrossGuard adapter (`policy_pack`) beside the pack in policies/.
ALLOWED = {
    "contract": set(),
    "catalog": set(),
    "spec": {"catalog", "contract"},
    "plan": {"spec", "catalog", "contract"},
    "engines": {"plan", "spec", "catalog", "contract"},
    "kube": {"engines", "plan", "spec", "catalog", "contract"},
    "monitoring": {"engines", "plan", "spec", "catalog", "contract"},
    "compliance": {"spec", "catalog", "contract"},
    "clouds": {"kube", "monitoring", "engines", "plan", "spec", "catalog", "contract"},
    "deployment": {"clouds", "kube", "monitoring", "engines", "plan", "spec", "catalog", "contract"},
    "program": {"deployment", "clouds", "calibrate", "plan", "spec", "catalog", "contract"},
    "offline": {"program", "deployment", "plan", "spec", "contract"},
    "check": {"offline", "compliance", "plan", "spec", "catalog", "contract"},
    "policy_pack": {"compliance", "spec", "contract"},
    #: The weights fetcher runs alone in a plain Python image: standard library only.
    "fetcher": set(),
    "render": {"report", "kube", "monitoring", "plan", "spec", "contract"},
    "report": {"plan", "spec", "catalog", "contract"},
    "cli": {"check", "render", "report", "compliance", "calibrate", "plan", "spec", "catalog", "contract"},
    #: `inferstack calibrate`: engine logs against the plan (the CLI registers it).
    "calibrate": {"plan", "spec", "catalog", "contract"},
    "package": set(),
}

#: Function-local imports that are deliberate: the lazy public API of `inferstack` (so `import
#: inferstack` loads nothing), the CLI's Pulumi-backed `check` (so `plan`/`render` never import
#: Pulumi or a cloud SDK), and an optional dependency used only to analyse PromQL.
LAZY_ALLOWED = {
    ("inferstack", "importlib"),
    ("inferstack.cli", "inferstack.check"),
    ("inferstack.monitoring", "promql_parser"),
}

#: Layers that must never import Pulumi or a cloud SDK, even lazily.
PURE = {"contract", "catalog", "spec", "plan", "engines", "kube", "monitoring", "compliance", "render", "report"}
PULUMI_PACKAGES = ("pulumi", "pulumi_aws", "pulumi_gcp", "pulumi_kubernetes", "pulumi_policy")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def layer(module: str) -> str:
    for prefix in sorted(LAYER_OF, key=len, reverse=True):
        if module == prefix or module.startswith(prefix + "."):
            return LAYER_OF[prefix]
    raise AssertionError(f"{module} belongs to no layer; add it to LAYER_OF")


def _type_checking_block(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def imports(path: Path) -> Iterator[tuple[str, bool]]:
    """(imported module, inside a function) for every import outside `if TYPE_CHECKING:` blocks.
    `from inferstack import catalog` yields `inferstack.catalog`."""

    def walk(node: ast.AST, in_function: bool) -> Iterator[tuple[str, bool]]:
        for child in ast.iter_child_nodes(node):
            if _type_checking_block(child):
                continue
            local = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(child, ast.Import):
                for alias in child.names:
                    yield alias.name, in_function
            elif isinstance(child, ast.ImportFrom) and child.module and child.level == 0:
                for alias in child.names:
                    candidate = f"{child.module}.{alias.name}"
                    is_module = any(
                        (PACKAGE.parent / candidate.replace(".", "/")).with_suffix(suffix).exists()
                        for suffix in (".py", "")
                    )
                    yield (candidate if is_module else child.module), in_function
            yield from walk(child, local)

    yield from walk(ast.parse(path.read_text()), False)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def graph() -> dict[str, set[str]]:
    return {
        name: {target for target, _ in imports(path) if target.startswith("inferstack") and target in MODULES}
        for name, path in MODULES.items()
    }


def test_every_module_has_a_layer():
    for name in MODULES:
        layer(name)


@pytest.mark.parametrize("name", sorted(MODULES))
def test_imports_follow_the_layers(name):
    own = layer(name)
    for target in graph()[name]:
        other = layer(target)
        assert other == own or other in ALLOWED[own], f"{name} ({own}) imports {target} ({other})"


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_function_local_imports_but_the_deliberate_ones(name):
    local = {target for target, in_function in imports(MODULES[name]) if in_function}
    assert {(name, target) for target in local} <= LAZY_ALLOWED


@pytest.mark.parametrize("name", sorted(n for n in MODULES if layer(n) in PURE))
def test_pure_layers_never_import_pulumi(name):
    for target, _ in imports(MODULES[name]):
        assert target.split(".")[0] not in PULUMI_PACKAGES, f"{name} imports {target}"


def test_no_import_cycles():
    edges = graph()
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        path.append(node)
        for target in sorted(edges[node]):
            # A package's __init__ importing its own submodules is how packages re-export; a
            # submodule importing its package back is a cycle.
            if node.startswith(target + ".") is False and target.startswith(node + "."):
                continue
            if state.get(target) == 1:
                raise AssertionError("import cycle: " + " -> ".join([*path[path.index(target) :], target]))
            if target not in state:
                visit(target)
        path.pop()
        state[node] = 2

    for module in sorted(edges):
        if module not in state:
            visit(module)


def test_the_checker_finds_a_cycle_and_a_local_import(tmp_path, monkeypatch):
    """The checks above can fail: a planted local import and a planted cycle are both caught."""
    planted = tmp_path / "planted.py"
    planted.write_text("def f():\n    from inferstack.plan import plan\n")
    assert list(imports(planted)) == [("inferstack.plan", True)]
    monkeypatch.setattr(
        "tests.unit.test_layers.graph", lambda: {"inferstack.a": {"inferstack.b"}, "inferstack.b": {"inferstack.a"}}
    )
    with pytest.raises(AssertionError, match=r"import cycle: inferstack.a -> inferstack.b -> inferstack.a"):
        test_no_import_cycles()


def test_the_lazy_public_api_lists_what_it_loads():
    import inferstack

    assert sorted(inferstack.__all__) == sorted(inferstack._LAZY)
    for name in inferstack.__all__:
        assert getattr(inferstack, name).__name__ == name
