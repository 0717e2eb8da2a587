"""Import layering of `bot` and `handlers`, read from the code's import graph (grimp, without running it).

Every import counts, including those inside functions; imports under `if TYPE_CHECKING:` do not (they never
run, so annotations may name any module). A failure lists each offending import as
`importer → imported (path:line)`, and for indirect ones the whole chain.

a. No import cycles among the modules of `bot` and `handlers`. A cycle makes start-up order matter (a module
   half-initialised when its partner reads from it), and every module in it has to be understood, tested
   and changed together.
b. Nothing in `bot` imports `handlers`, except the composition root `bot.app`, which builds the Bolt app from
   the handlers; everything else (`bot.shell`, `bot.web`, `bot.__main__`…) reaches them only through
   `bot.app`. Handlers are the outermost layer: the bot's own code must work, and be testable, without them.
c. The domain packages (`bot.incidents`, `bot.gpu`, `bot.spend`, `bot.review`, `bot.oncall`, `bot.alerts`,
   `bot.evidence`, each once it exists) import `slack_bolt`/`slack_sdk` only in their `render` and `wiring` modules, so
   domain logic can be tested and reused without Slack (direct imports: going through render/wiring or an
   injected client is the intended path to Slack); and none of their modules reaches `bot.services`,
   `bot.app`, `bot.runtime` or `bot.web`, directly or through other modules: their dependencies are
   injected, never looked up from the composition root.
d. `handlers` never import `sqlalchemy` or `bot.store.models`: handlers turn Slack payloads into calls and
   answers, and never see ORM rows or sessions (the store's functions return plain values).

grimp rather than import-linter contracts: rule (a) needs strongly connected components, which no
import-linter contract computes, and one graph with grimp's import details (line numbers) gives every rule
the same clear failure message.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import pairwise
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[3]
PACKAGES = ("bot", "handlers")
COMPOSITION_ROOT = "bot.app"
ALLOWED_TO_IMPORT_HANDLERS = {COMPOSITION_ROOT}
DOMAIN_PACKAGES = ("bot.incidents", "bot.gpu", "bot.spend", "bot.review", "bot.oncall", "bot.alerts", "bot.digest",
                   "bot.evidence")
SLACK_LIBRARIES = ("slack_bolt", "slack_sdk")
SLACK_ALLOWED_IN = ("render", "wiring")  # bot.<domain>.render / bot.<domain>.wiring (and their submodules)
COMPOSITION_MODULES = ("bot.services", "bot.app", "bot.runtime", "bot.web")
NOT_FOR_HANDLERS = ("sqlalchemy", "bot.store.models")


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    # cache_dir=None: the graph of ~80 modules builds in milliseconds; no cache directory in the work tree.
    return grimp.build_graph(*PACKAGES, include_external_packages=True, exclude_type_checking_imports=True,
                             cache_dir=None)


def test_no_import_cycles(graph: grimp.ImportGraph) -> None:
    cycles = import_cycles(graph)
    if cycles:
        edges = _internal_edges(graph)
        report = []
        for component in cycles:
            members = set(component)
            report.append(f"{len(component)} modules in a cycle: {', '.join(component)}\n"
                          f"  e.g. {_render_chain(graph, _shortest_cycle(edges, component[0], members))}\n"
                          "  every import inside it:\n" + "\n".join(
                              f"    {_render_import(graph, importer, imported)}"
                              for importer in component for imported in edges[importer] if imported in members))
        pytest.fail(f"{len(cycles)} import cycle(s) among the modules of bot and handlers "
                    "(break each by moving code or injecting the dependency):\n" + "\n".join(report),
                    pytrace=False)


def test_only_the_composition_root_imports_handlers(graph: grimp.ImportGraph) -> None:
    _fail_on(graph, handlers_imported_from_bot(graph),
             f"modules of bot import handlers; only {sorted(ALLOWED_TO_IMPORT_HANDLERS)} may "
             f"(everything else reaches the handlers through {COMPOSITION_ROOT})")


def test_domain_packages_import_slack_only_in_render_and_wiring(graph: grimp.ImportGraph) -> None:
    _fail_on(graph, slack_imported_by_domain_logic(graph),
             f"domain modules import {' / '.join(SLACK_LIBRARIES)} outside their "
             f"{' and '.join(SLACK_ALLOWED_IN)} modules")


def test_domain_packages_never_reach_the_composition_root(graph: grimp.ImportGraph) -> None:
    chains = composition_reached_by_domain(graph)
    if chains:
        pytest.fail(f"domain modules import {', '.join(COMPOSITION_MODULES)} (directly or through other modules); "
                    "inject what they need instead:\n"
                    + "\n".join(f"  {_render_chain(graph, chain)}" for chain in chains), pytrace=False)


def test_handlers_never_see_orm_rows(graph: grimp.ImportGraph) -> None:
    _fail_on(graph, orm_imported_by_handlers(graph),
             f"handlers import {' / '.join(NOT_FOR_HANDLERS)}; they get plain values from bot.store's functions "
             "and the domain services")


def test_the_graph_sees_function_level_imports(graph: grimp.ImportGraph) -> None:
    """The rules rely on imports inside functions being in the graph: bot.app imports the handlers inside
    build_app()."""
    assert graph.direct_import_exists(importer=COMPOSITION_ROOT, imported="handlers")


def test_each_rule_flags_what_it_forbids_and_spares_what_it_allows() -> None:
    """The rules themselves, on a small made-up graph (the real tree cannot show both sides of each)."""
    made_up = grimp.ImportGraph()
    for module in ("bot", "bot.app", "bot.web", "bot.services", "bot.helper", "bot.a", "bot.b", "bot.c",
                   "bot.incidents", "bot.incidents.desk", "bot.incidents.render", "bot.incidents.wiring",
                   "bot.gpu", "bot.store", "bot.store.models", "bot.store.repo",
                   "handlers", "handlers.alerts", "handlers.commands"):
        made_up.add_module(module)
    for library in ("slack_sdk", "slack_bolt", "sqlalchemy"):
        made_up.add_module(library, is_squashed=True)
    for line, (importer, imported) in enumerate([
        ("bot.a", "bot.b"), ("bot.b", "bot.c"), ("bot.c", "bot.a"),  # a cycle of three
        ("bot.helper", "bot.helper"),  # a module importing itself: a cycle of one
        ("bot.app", "handlers"), ("bot.web", "handlers.alerts"),
        ("bot.incidents.desk", "slack_sdk"), ("bot.incidents.render", "slack_sdk"),
        ("bot.incidents.wiring", "slack_bolt"), ("bot.incidents.desk", "bot.store.repo"),
        ("bot.gpu", "bot.helper"), ("bot.helper", "bot.services"), ("bot.incidents.wiring", "bot.app"),
        ("handlers.alerts", "bot.store.models"), ("handlers.commands", "sqlalchemy"),
        ("handlers.commands", "bot.store.repo"), ("bot.store.repo", "sqlalchemy"),
    ], start=1):
        made_up.add_import(importer=importer, imported=imported, line_number=line, line_contents="import")

    assert import_cycles(made_up) == [["bot.a", "bot.b", "bot.c"], ["bot.helper"]]
    assert handlers_imported_from_bot(made_up) == [("bot.web", "handlers.alerts")]
    assert slack_imported_by_domain_logic(made_up) == [("bot.incidents.desk", "slack_sdk")]
    assert composition_reached_by_domain(made_up) == [("bot.gpu", "bot.helper", "bot.services"),
                                                      ("bot.incidents.wiring", "bot.app")]
    assert orm_imported_by_handlers(made_up) == [("handlers.alerts", "bot.store.models"),
                                                 ("handlers.commands", "sqlalchemy")]
    assert _render_chain(made_up, ("bot.gpu", "bot.helper", "bot.services")) == \
        "bot.gpu → bot.helper (bot/gpu/__init__.py:11) → bot.services (bot/helper.py:12)"


# --- the rules: each returns what breaks it, sorted ---

def import_cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Strongly connected components of the internal import graph with more than one module, or one module
    that imports itself; largest first."""
    edges = _internal_edges(graph)
    cycles = [component for component in _strongly_connected(edges)
              if len(component) > 1 or component[0] in edges[component[0]]]
    return sorted(cycles, key=lambda component: (-len(component), component))


def handlers_imported_from_bot(graph: grimp.ImportGraph) -> list[tuple[str, str]]:
    return [(importer, imported) for importer in _modules_of(graph, "bot")
            if importer not in ALLOWED_TO_IMPORT_HANDLERS
            for imported in sorted(graph.find_modules_directly_imported_by(importer))
            if _within(imported, "handlers")]


def slack_imported_by_domain_logic(graph: grimp.ImportGraph) -> list[tuple[str, str]]:
    return [(importer, imported) for domain in _domains(graph) for importer in _modules_of(graph, domain)
            if not any(_within(importer, f"{domain}.{part}") for part in SLACK_ALLOWED_IN)
            for imported in sorted(graph.find_modules_directly_imported_by(importer))
            if any(_within(imported, library) for library in SLACK_LIBRARIES)]


def composition_reached_by_domain(graph: grimp.ImportGraph) -> list[tuple[str, ...]]:
    """The shortest import chain from each domain module to each composition module (grimp leaves out chains
    that pass through another module of the same domain package: that module has its own)."""
    return sorted({chain for domain in _domains(graph) for target in COMPOSITION_MODULES if target in graph.modules
                   for chain in graph.find_shortest_chains(importer=domain, imported=target, as_packages=True)})


def orm_imported_by_handlers(graph: grimp.ImportGraph) -> list[tuple[str, str]]:
    return [(importer, imported) for importer in _modules_of(graph, "handlers")
            for imported in sorted(graph.find_modules_directly_imported_by(importer))
            if any(_within(imported, forbidden) for forbidden in NOT_FOR_HANDLERS)]


# --- helpers ---

def _internal(module: str) -> bool:
    return module.split(".")[0] in PACKAGES


def _within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def _internal_edges(graph: grimp.ImportGraph) -> dict[str, list[str]]:
    return {module: sorted(imported for imported in graph.find_modules_directly_imported_by(module)
                           if _internal(imported))
            for module in sorted(module for module in graph.modules if _internal(module))}


def _modules_of(graph: grimp.ImportGraph, package: str) -> list[str]:
    return sorted(module for module in graph.modules if _within(module, package))


def _domains(graph: grimp.ImportGraph) -> list[str]:
    return [domain for domain in DOMAIN_PACKAGES if domain in graph.modules]  # skip any not written yet


def _fail_on(graph: grimp.ImportGraph, offending: list[tuple[str, str]], what: str) -> None:
    if offending:
        pytest.fail(f"{what}:\n" + "\n".join(f"  {_render_import(graph, importer, imported)}"
                                             for importer, imported in offending), pytrace=False)


def _render_import(graph: grimp.ImportGraph, importer: str, imported: str) -> str:
    return f"{importer} → {imported} ({_where(graph, importer, imported)})"


def _render_chain(graph: grimp.ImportGraph, chain: Iterable[str]) -> str:
    """a → b (a.py:3) → c (b.py:9): each location is the import statement that makes the hop."""
    modules = list(chain)
    return modules[0] + "".join(f" → {imported} ({_where(graph, importer, imported)})"
                                for importer, imported in pairwise(modules))


def _where(graph: grimp.ImportGraph, importer: str, imported: str) -> str:
    lines = sorted({detail["line_number"] for detail in graph.get_import_details(importer=importer,
                                                                                 imported=imported)})
    return f"{_path_of(importer)}:{','.join(map(str, lines)) or '?'}"


def _path_of(module: str) -> str:
    base = ROOT.joinpath(*module.split("."))
    path = base / "__init__.py" if base.is_dir() else base.with_suffix(".py")
    return str(path.relative_to(ROOT))


def _strongly_connected(edges: dict[str, list[str]]) -> Iterator[list[str]]:
    """Tarjan's algorithm, iterative (no recursion limit), over the internal import graph."""
    index: dict[str, int] = {}
    lowlink: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    for root in sorted(edges):
        if root in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(root, iter(edges[root]))]
        index[root] = lowlink[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, successors = work[-1]
            successor = next(successors, None)
            if successor is not None:
                if successor not in index:
                    index[successor] = lowlink[successor] = len(index)
                    stack.append(successor)
                    on_stack.add(successor)
                    work.append((successor, iter(edges.get(successor, []))))
                elif successor in on_stack:
                    lowlink[node] = min(lowlink[node], index[successor])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                lowlink[parent] = min(lowlink[parent], lowlink[node])
            if lowlink[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                yield sorted(component)


def _shortest_cycle(edges: dict[str, list[str]], start: str, members: set[str]) -> list[str]:
    """start → … → start through `members` only, found breadth first."""
    previous: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for successor in edges[node]:
                if successor not in members:
                    continue
                if successor == start:
                    chain = [node]
                    while chain[-1] != start:
                        chain.append(previous[chain[-1]])
                    return [*reversed(chain), start]
                if successor not in previous:
                    previous[successor] = node
                    following.append(successor)
        frontier = following
    return [start, start]
