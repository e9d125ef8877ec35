"""The house keeps its one direction (issue "One direction through the house"): no import cycle
anywhere in the package (the layers themselves are import-linter's contract, run by make lint)."""

from __future__ import annotations

import grimp
import networkx


def cycles(edges: list[tuple[str, str]]) -> list[list[str]]:
    """Every group of modules that import each other, round and round."""
    graph = networkx.DiGraph(edges)
    return sorted(
        sorted(group) for group in networkx.strongly_connected_components(graph) if len(group) > 1
    )


def test_the_package_has_no_import_cycle() -> None:
    graph = grimp.build_graph("reconciler")
    edges = [
        (module, imported)
        for module in graph.modules
        for imported in graph.find_modules_directly_imported_by(module)
        if imported.startswith("reconciler")
    ]
    assert len(edges) > 300, "the graph was read"
    assert cycles(edges) == []


def test_a_cycle_would_be_found() -> None:
    edges = [("pkg.a", "pkg.b"), ("pkg.b", "pkg.a"), ("pkg.c", "pkg.a")]
    assert cycles(edges) == [["pkg.a", "pkg.b"]]
