"""Layers: the library (`cleann/`) never imports orchestration; the CLI starts light; no
module imports itself through others.

Why: `cleann/` is plain Python usable without Prefect; `cleann.tasks` and `cleann.flows`
sit on top of it, and the CLI imports a flow only inside the handler that runs it. A
command that needs no model (`cleann sql --help`, `cleann query --list`) must not pay
for importing torch and Captum (13-17 s on the 2-core dev VM under load before issue 13).
An import circle (two modules that need each other, often hidden in a function-level
import) means neither can be read, tested or moved alone.
"""
from __future__ import annotations

import ast
import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import cleann

REPO_ROOT = Path(__file__).resolve().parents[1]
ORCHESTRATION = ("prefect", "cleann.flows", "cleann.tasks")


def library_modules() -> list[str]:
    """Every module physically under cleann/ (flows/, tasks/ and sql/ live elsewhere)."""
    names = [m.name for m in pkgutil.walk_packages(cleann.__path__, "cleann.")]
    return sorted(n for n in names if not n.startswith(("cleann.flows", "cleann.tasks", "cleann.sql")))


def _run(code: str) -> dict:
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600,
                          cwd=REPO_ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_every_library_module_imports_without_orchestration():
    modules = library_modules()
    assert len(modules) > 50 and "cleann.pipeline.job" in modules and "cleann.cli.explain" in modules
    code = f"""
import importlib, json, sys, traceback
for name in {ORCHESTRATION!r}:
    sys.modules[name] = None  # any import of it raises ImportError
failed = {{}}
for name in {modules!r}:
    try:
        importlib.import_module(name)
    except Exception as exc:
        failed[name] = traceback.format_exc(limit=-3)
loaded = sorted(m for m in sys.modules if m.split(".")[0] == "prefect" and sys.modules[m] is not None)
print(json.dumps({{"failed": failed, "loaded": loaded}}))
"""
    result = _run(code)
    assert result["failed"] == {}, "\n".join(f"{k}:\n{v}" for k, v in result["failed"].items())
    assert result["loaded"] == []


def test_library_source_names_no_orchestration_import():
    """Also lazily: no `import prefect` / `cleann.flows` / `cleann.tasks` anywhere in the
    library except the CLI, which may import a flow inside the handler that runs it."""
    offenders = []
    root = Path(cleann.__file__).parent
    for path in sorted(root.rglob("*.py")):
        if path.parts[len(root.parts)] == "cli":
            continue
        for n, line in enumerate(path.read_text().splitlines(), 1):
            text = line.strip()
            if text.startswith(("import ", "from ")) and any(
                    text.split()[1] == m or text.split()[1].startswith(m + ".") for m in ORCHESTRATION):
                offenders.append(f"{path.relative_to(root.parent)}:{n}: {text}")
    assert offenders == []


def test_light_commands_do_not_import_torch():
    code = """
import json, sys
from cleann.cli import main
heavy = ("torch", "captum", "transformers", "shap", "prefect")
out = {}
for argv in (["sql", "--help"], ["query", "--list"], ["explain", "--help"]):
    try:
        main(argv)
    except SystemExit:
        pass
    out[" ".join(argv)] = sorted(m for m in heavy if m in sys.modules)
print(json.dumps(out))
"""
    loaded = _run(code)
    assert loaded == {"sql --help": [], "query --list": [], "explain --help": []}, loaded


# --- import circles ----------------------------------------------------------------------


def _module_files(package_dirs: dict[str, Path]) -> dict[str, Path]:
    """Dotted name -> file for every module under the given package folders."""
    out = {}
    for package, folder in package_dirs.items():
        for path in folder.rglob("*.py"):
            parts = list(path.relative_to(folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join([package, *parts])] = path
    return out


def import_graph(package_dirs: dict[str, Path], top: str = "cleann") -> dict[str, set[str]]:
    """Module -> the ``top`` modules it imports, read from the source with ast: every import
    statement counts, also inside functions and under TYPE_CHECKING (a reader follows those
    too). ``from a import b`` is an arrow to ``a.b`` when that is a module, else to ``a``.
    The package ``__init__`` files Python runs on the way are not arrows: they re-export, and
    counting them would turn every re-export into a circle."""
    modules = _module_files(package_dirs)

    def known(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        arrows = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")
                    base = ".".join(parts[:len(parts) - node.level + 1] + ([base] if base else []))
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
            else:
                continue
            arrows |= {t for t in map(known, targets) if t and t != name and t.split(".")[0] == top}
        graph[name] = arrows
    return graph


def import_cycles(graph: dict[str, set[str]]) -> list[set[str]]:
    """The groups of modules that import one another, directly or around a circle
    (strongly connected components of more than one module; Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[set[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.add(w)
                if w == v:
                    break
            if len(group) > 1:
                out.append(group)

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def library_package_dirs() -> dict[str, Path]:
    """cleann/ plus flows/ and tasks/, installed as cleann.flows and cleann.tasks."""
    return {"cleann": Path(cleann.__file__).parent, "cleann.flows": REPO_ROOT / "flows",
            "cleann.tasks": REPO_ROOT / "tasks"}


def _describe(graph: dict[str, set[str]], group: set[str]) -> str:
    return "; ".join(f"{m} -> {', '.join(sorted(graph[m] & group))}" for m in sorted(group))


def test_no_import_cycles():
    graph = import_graph(library_package_dirs())
    assert len(graph) > 50 and "cleann.causal.icd" in graph and "cleann.flows.explain" in graph
    assert "cleann.causal.icd_compiled" in graph["cleann.causal.icd"]  # a function-level import is seen
    cycles = import_cycles(graph)
    assert cycles == [], "import circles:\n" + "\n".join(_describe(graph, g) for g in cycles)


def test_the_cycle_finder_sees_every_kind_of_import(tmp_path):
    """A circle through a function-level import, one through relative imports, and a
    package that imports its own submodules (no circle) in a throw-away package."""
    files = {
        "__init__.py": "",
        "a.py": "import os\n\ndef f():\n    from pkg.b import g\n    return g\n",
        "b.py": "from pkg import a\n",
        "sub/__init__.py": "from pkg.sub.c import x\n",
        "sub/c.py": "from . import d\nx = 1\n",
        "sub/d.py": "from .c import x\n",
        "sub/e.py": "from pkg.sub import x\nfrom ..a import f\n",
    }
    for name, text in files.items():
        (tmp_path / "pkg" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "pkg" / name).write_text(text)
    graph = import_graph({"pkg": tmp_path / "pkg"}, top="pkg")
    assert graph["pkg.a"] == {"pkg.b"} and graph["pkg.sub.e"] == {"pkg.sub", "pkg.a"}
    cycles = sorted(import_cycles(graph), key=min)
    assert cycles == [{"pkg.a", "pkg.b"}, {"pkg.sub.c", "pkg.sub.d"}]
