"""No module imports itself through others: the import graph of our packages has no cycles.

A cycle only breaks when a process enters it from one particular module (the bench's web server
once started from ``bots.whatsapp`` and failed on ``conversations.gifting`` while the test suite,
entering elsewhere, passed), so it is checked on the whole graph rather than by importing.
"""

from __future__ import annotations

import grimp

PACKAGES = ("conversations", "bots", "domain", "payments", "nexustop", "admin")


def _cycles(graph: grimp.ImportGraph) -> list[tuple[str, ...]]:
    """Each import A → B for which B also leads back to A, as the chain A → B → … → A."""
    found = []
    for module in sorted(graph.modules):
        for imported in sorted(graph.find_modules_directly_imported_by(module)):
            back = graph.find_shortest_chain(importer=imported, imported=module)
            if back:
                found.append((module, *back))
    return found


def test_the_import_graph_has_no_cycles() -> None:
    graph = grimp.build_graph(*PACKAGES)
    assert len(graph.modules) > 100
    assert _cycles(graph) == []


def test_a_cycle_would_be_found() -> None:
    graph = grimp.ImportGraph()
    for module in ("p.a", "p.b", "p.c"):
        graph.add_module(module)
    graph.add_import(importer="p.a", imported="p.b")
    graph.add_import(importer="p.b", imported="p.c")
    graph.add_import(importer="p.c", imported="p.a")
    assert ("p.a", "p.b", "p.c", "p.a") in _cycles(graph)
