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


def repeated_blocks(paths: list[str], more_than: int = 10) -> str:
    """pylint's copy-paste detector (symilar) over the files: runs longer than `more_than` lines
    that stand in two places, comments and docstrings aside. Its report, or '' when none."""
    import io
    from contextlib import redirect_stdout

    from pylint.checkers.symilar import Symilar

    symilar = Symilar(min_lines=more_than + 1, ignore_comments=True, ignore_docstrings=True)
    for path in paths:
        with open(path, encoding="utf-8") as stream:
            symilar.append_stream(path, stream)
    report = io.StringIO()
    with redirect_stdout(report):
        symilar.run()
    text = report.getvalue()
    return "" if "duplicates=0 " in text else text


def test_no_block_of_more_than_ten_lines_is_repeated_in_the_package() -> None:
    from pathlib import Path

    import reconciler

    paths = sorted(str(p) for p in Path(reconciler.__file__).parent.rglob("*.py"))
    assert len(paths) > 100, "the package was read"
    assert repeated_blocks(paths) == ""


def test_a_repeated_block_would_be_found(tmp_path) -> None:
    body = "".join(f"    total = total + {n} * weight\n" for n in range(12))
    for name in ("a.py", "b.py"):
        source = f"def {name[0]}(weight):\n    total = 0\n{body}    return total\n"
        (tmp_path / name).write_text(source)
    report = repeated_blocks([str(tmp_path / "a.py"), str(tmp_path / "b.py")])
    assert "similar lines in 2 files" in report
