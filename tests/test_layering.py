"""The core never imports Textual: only socialtui/tui/ may (and the CLI, lazily, to start it)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "socialtui"


def core_modules() -> list[str]:
    names = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        parts = list(rel.parts)
        if parts[1:2] == ["tui"] or parts[-1] == "__main__":
            continue
        if parts[-1] == "__init__":
            parts = parts[:-1]
        names.append(".".join(parts))
    return names


def test_no_core_module_imports_textual_at_import_time() -> None:
    modules = core_modules()
    assert "socialtui.care" in modules and "socialtui.store" in modules
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        "bad = sorted(m for m in sys.modules if m == 'textual' or m.startswith('textual.'))\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "", f"Textual imported by the core: {result.stdout.strip()}"


def test_no_core_source_mentions_a_textual_import() -> None:
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        if "tui" in path.relative_to(PACKAGE).parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import) and any(
                a.name.split(".")[0] in {"textual", "rich"} for a in node.names
            ):
                offenders.append(str(path))
            if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in {"textual", "rich"}:
                offenders.append(str(path))
    assert offenders == []


def test_the_dashboard_never_imports_the_command_line() -> None:
    """Layers point one way: `cli` starts the dashboard; what both need lives below them."""
    offenders = []
    for path in (PACKAGE / "tui").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module == "socialtui.cli":
                offenders.append(str(path))
            if isinstance(node, ast.Import) and any(a.name == "socialtui.cli" for a in node.names):
                offenders.append(str(path))
    assert offenders == []
