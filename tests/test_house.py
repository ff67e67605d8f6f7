"""The house: the imports between musiczoo's modules (function-level ones too) run one way, without a circle."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SUBPACKAGES = ("zoo", "extractors", "train", "downstream")  # top-level folders, installed as musiczoo.<folder>
FOLDERS = {"musiczoo": "musiczoo"} | {folder: f"musiczoo.{folder}" for folder in SUBPACKAGES}
# What a folder may import: data flows audio -> extractors -> train -> zoo model -> export -> extractors -> downstream,
# and zoo (what a model is) depends on none of them; the command line is the top.
NOT_IMPORTED_BY = {
    "musiczoo.zoo": ("musiczoo.extractors", "musiczoo.train", "musiczoo.downstream", "musiczoo.cli"),
    "musiczoo.extractors": ("musiczoo.train", "musiczoo.downstream", "musiczoo.cli"),
    "musiczoo.train": ("musiczoo.downstream", "musiczoo.cli"),
    "musiczoo.downstream": ("musiczoo.cli",),
}


def module_imports():
    """Module name -> the musiczoo modules it imports, anywhere in its body."""
    graph = {}
    for folder, package in FOLDERS.items():
        for path in (ROOT / folder).rglob("*.py"):
            parts = path.relative_to(ROOT / folder).with_suffix("").parts
            name = ".".join((package, *parts)).removesuffix(".__init__")
            imported = set()
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("musiczoo"):
                    imported |= {f"{node.module}.{alias.name}" for alias in node.names} | {node.module}
                elif isinstance(node, ast.Import):
                    imported |= {alias.name for alias in node.names if alias.name.startswith("musiczoo.")}
            graph[name] = imported
    return {name: {other for other in imported if other in graph and other != name} for name, imported in graph.items()}


def test_no_module_imports_against_the_flow():
    wrong = [
        f"{name} imports {other}"
        for name, imported in module_imports().items()
        for folder, banned in NOT_IMPORTED_BY.items()
        if name.startswith(folder + ".")
        for other in imported
        if other.startswith(banned)
    ]
    assert not wrong


def test_the_imports_form_no_circle():
    graph = {  # a package's __init__ runs before its modules: leave those arrows out
        name: {other for other in imported if not name.startswith(other + ".")}
        for name, imported in module_imports().items()
    }
    state, circles = {}, []

    def visit(name, path):
        state[name] = "open"
        for other in sorted(graph[name]):
            if state.get(other) == "open":
                circles.append(" -> ".join(path[path.index(other) :] + [other]))
            elif other not in state:
                visit(other, path + [other])
        state[name] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert not circles
