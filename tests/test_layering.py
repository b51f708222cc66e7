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


def _calls_outside(allowed: set[str], wanted: set[tuple[str, str]]) -> list[str]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        if rel in allowed:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and (node.value.id, node.attr) in wanted
            ):
                found.append(f"{rel}:{node.lineno} {node.value.id}.{node.attr}")
    return found


def test_one_atomic_file_writer() -> None:
    """Secrets, sessions, config and store files are all written by `store/safefile.py` (no
    symlink followed, the mode set, renamed into place): a second writer would skip one of those."""
    writers = {("os", "replace"), ("os", "rename"), ("tempfile", "mkstemp")}
    assert _calls_outside({"store/safefile.py"}, writers) == []


def test_one_backoff_formula() -> None:
    """The HTTP wrapper, the outbox and the poller back off with `socialtui.retry.Backoff`: no other
    exponential step is computed in the package."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        if rel == "retry.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow):
                found.append(f"{rel}:{node.lineno} {ast.unparse(node)}")
    assert found == []
    for rel in ("networks/http.py", "outbox.py", "sync.py"):
        assert "from socialtui.retry import Backoff" in (PACKAGE / rel).read_text(), rel


def test_one_cleaning_function() -> None:
    """Stranger's and server's text is cleaned by `socialtui.text` (`strip_controls`, and `clean`,
    `one_line` built on it): no other module defines a cleaner or its own escape-sequence pattern."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        if rel == "text.py" or rel.startswith("sandbox/"):
            continue
        source = path.read_text()
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.FunctionDef) and node.name in {"clean", "strip_controls", "sanitize"}:
                found.append(f"{rel}:{node.lineno} def {node.name}")
        if r"\x1b" in source or r"\x00-\x1f" in source:
            found.append(f"{rel}: a control-character pattern")
    assert found == []


def test_the_dashboard_imports_the_http_client_only_to_reach_a_network() -> None:
    """httpx takes a fifth of a second to import: the dashboard's first screen (and a dashboard whose
    polling is left to `socialtui sync`) never waits for it. It comes with the first adapter."""
    code = (
        "import sys\n"
        "import socialtui.tui.app, socialtui.tui.screens.main, socialtui.networks.base\n"
        "print('before', 'httpx' in sys.modules)\n"
        "from socialtui.networks import RateLimit\n"
        "print('after', 'httpx' in sys.modules, RateLimit.__name__)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["before", "False", "after", "True", "RateLimit"]
