"""Dependencies point down only (design section 2): checked on the source, import by import."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "spruce"

# For each layer, the spruce packages and third-party modules it must never import.
FORBIDDEN: dict[str, tuple[str, ...]] = {
    "engine": (
        "spruce.service",
        "spruce.wire",
        "spruce.api",
        "spruce.client",
        "spruce.cli",
        "starlette",
        "uvicorn",
        "grpc",
        "google.protobuf",
        "click",
        "httpx",
    ),
    "service": (
        "spruce.wire",
        "spruce.api",
        "spruce.client",
        "spruce.cli",
        "starlette",
        "uvicorn",
        "grpc",
        "google.protobuf",
        "click",
        "httpx",
    ),
    "wire": ("spruce.engine", "spruce.api", "spruce.client", "spruce.cli"),
    "client": ("spruce.api", "spruce.cli", "spruce.wire"),
    "api": ("spruce.client", "spruce.cli"),
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_layer_imports_point_down(layer: str) -> None:
    bad: list[str] = []
    for path in sorted((SRC / layer).rglob("*.py")):
        if "pb" in path.relative_to(SRC).parts:
            continue  # generated protobuf code
        for name in _imports(path):
            for forbidden in FORBIDDEN[layer]:
                if name == forbidden or name.startswith(forbidden + "."):
                    bad.append(f"{path.relative_to(SRC)} imports {name}")
    assert not bad, "layering violations:\n" + "\n".join(bad)


def test_only_ann_module_imports_faiss() -> None:
    users = [
        str(p.relative_to(SRC))
        for p in SRC.rglob("*.py")
        if any(n == "faiss" or n.startswith("faiss.") for n in _imports(p))
    ]
    assert sorted(users) == ["engine/ann.py", "engine/kernels.py"]


def test_no_engine_module_imports_the_store() -> None:
    """docs/engine-shape.md: the store uses its collaborators (compaction, maintenance, graphs,
    manifest, ...), which reach it through protocols, never through an import of store.py (not even
    a type-only one: that is how the compaction <-> store circle started)."""
    importers = [
        path.name
        for path in sorted((SRC / "engine").glob("*.py"))
        if path.name != "store.py" and "spruce.engine.store" in _imports(path)
    ]
    assert importers == []
