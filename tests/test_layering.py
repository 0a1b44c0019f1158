"""Layers: the library (`cleann/`) never imports orchestration; the CLI starts light.

Why: `cleann/` is plain Python usable without Prefect; `cleann.tasks` and `cleann.flows`
sit on top of it, and the CLI imports a flow only inside the handler that runs it. A
command that needs no model (`cleann sql --help`, `cleann query --list`) must not pay
for importing torch and Captum (13-17 s on the 2-core dev VM under load before issue 13).
"""
from __future__ import annotations

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
