"""No import cycles between vsrbench's modules (not only between its subpackages).

The graph is built with ``ast`` from the source: an edge ``a -> b`` for **every** import statement
of ``a`` naming the vsrbench module ``b``, at module level and inside functions alike (a lazy import
that only hides a cycle from the interpreter is still a cycle of the design). Imports under
``if TYPE_CHECKING:`` are left out (they never run). ``from pkg import name`` is an edge to
``pkg.name`` when that is a module, else to ``pkg`` (its ``__init__``). Importing a submodule
runs its parents' ``__init__`` too, but those implicit edges are not counted: every package
``__init__`` that re-exports its submodules would otherwise be a cycle.
"""

from __future__ import annotations

import ast
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[1] / "vsrbench"



def _modules() -> dict[str, pathlib.Path]:
    out = {}
    for path in ROOT.rglob("*.py"):
        parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    skip = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip |= {id(n) for stmt in node.body for n in ast.walk(stmt)}
    return skip


def _edges(name: str, path: pathlib.Path, modules: dict) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = _type_checking_nodes(tree)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name in modules}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(parts + ([node.module] if node.module else []))
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                if sub in modules:
                    out.add(sub)
                elif base in modules:
                    out.add(base)
    out.discard(name)
    return out


def import_graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _edges(name, path, modules) for name, path in modules.items()}


def cycles(graph: dict[str, set[str]]) -> list[tuple[str, ...]]:
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            v, children = work[-1]
            for w in children:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(graph[w]))))
                    break
                if w in on_stack:
                    low[v] = min(low[v], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
                if low[v] == index[v]:
                    comp = []
                    while True:
                        w = stack.pop()
                        on_stack.discard(w)
                        comp.append(w)
                        if w == v:
                            break
                    if len(comp) > 1:
                        found.append(tuple(sorted(comp)))
    return sorted(found)


def test_the_graph_sees_lazy_imports_and_cycles():
    """The checker itself: a function-level import is an edge; a 3-cycle and a 2-cycle are found."""
    graph = import_graph()
    assert "vsrbench.models.checkpoint" in graph["vsrbench.models"]  # imported inside __getattr__
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"e"}, "e": {"d"}, "f": {"a"}}) == [
        ("a", "b", "c"), ("d", "e")]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles_between_modules():
    found = sorted(cycles(import_graph()))
    assert not found, "import cycles: " + "; ".join(" <-> ".join(c) for c in found)


#: functions allowed over :data:`MAX_FUNCTION_LINES`: bit-exact numeric kernels only, each with its reason
LONG_FUNCTION_ALLOWED: dict[str, str] = {}
MAX_FUNCTION_LINES = 80


def long_functions(root: pathlib.Path = ROOT, limit: int = MAX_FUNCTION_LINES) -> dict[str, int]:
    """``module:qualified.name -> lines`` of every function (def line to last line) longer than ``limit``."""
    out = {}
    for path in sorted(root.rglob("*.py")):
        module = ".".join(path.relative_to(root.parent).with_suffix("").parts)

        def visit(node, prefix):
            for child in ast.iter_child_nodes(node):
                if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    name = f"{prefix}{child.name}"
                    n = child.end_lineno - child.lineno + 1
                    if not isinstance(child, ast.ClassDef) and n > limit:
                        out[f"{module}:{name}"] = n
                    visit(child, name + ".")
                else:
                    visit(child, prefix)

        visit(ast.parse(path.read_text(encoding="utf-8")), "")
    return out


def test_the_length_check_sees_a_long_function(tmp_path):
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    body = "".join(f"        x{i} = {i}\n" for i in range(80))  # def + 80 + return: 82 lines
    (pkg / "m.py").write_text(f"class C:\n    def long(self):\n{body}        return 0\n\n\ndef short():\n    return 1\n")
    assert long_functions(pkg) == {"pkg.m:C.long": 82}


def test_no_function_over_80_lines():
    found = {k: n for k, n in long_functions().items() if k not in LONG_FUNCTION_ALLOWED}
    assert not found, f"functions over {MAX_FUNCTION_LINES} lines (split them into named stages): {found}"
    stale = set(LONG_FUNCTION_ALLOWED) - set(long_functions())
    assert not stale, f"allow-listed but no longer long: {stale}"
