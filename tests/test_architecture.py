"""The package's layering rules, read from the source: who may import whom, no cycles, documented packages.

The layers (CONTRIBUTING.md, "Package layout"):

* foundations: ``errors``, ``runtime``, ``data``, ``training``, ``layers``; they never import a topic;
* topics, one per chapter: ``lm`` (01), ``transfer`` (02), ``gan`` (03), ``gradients`` (04),
  ``embeddings`` (05), ``seq2seq`` (06), ``attention`` (07), ``multitask`` (08), ``bert_lstm`` (09);
  a topic imports foundations and the topics of earlier chapters;
* ``checks`` (student self-checks) imports foundations and topics;
* machinery: ``course`` and ``grading``; no reference code (foundations, topics, checks) imports them.

Every import counts, those inside functions too: a cycle hidden in a function is still a cycle.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "textrnn_lab"

FOUNDATIONS = {
    "errors": set(),
    "runtime": {"errors"},
    "data": {"errors", "runtime"},
    "training": {"errors", "runtime"},
    "layers": {"errors", "runtime", "data"},
}
TOPICS = ["lm", "transfer", "gan", "gradients", "embeddings", "seq2seq", "attention", "multitask", "bert_lstm"]
CHAPTER_OF_TOPIC = {"lm": "01", "transfer": "02", "gan": "03", "gradients": "04", "embeddings": "05",
                    "seq2seq": "06", "attention": "07", "multitask": "08", "bert_lstm": "09"}
MACHINERY = {"course", "grading"}
HEAVY = {"tensorflow", "keras", "transformers", "datasets", "gensim", "seqeval", "papermill", "nbclient"}


def allowed_imports(layer: str) -> set[str]:
    if layer in FOUNDATIONS:
        return FOUNDATIONS[layer] | {layer}
    if layer in TOPICS:
        return set(FOUNDATIONS) | set(TOPICS[: TOPICS.index(layer) + 1])
    if layer == "checks":
        return set(FOUNDATIONS) | set(TOPICS) | {"checks"}
    if layer == "course":
        return set(FOUNDATIONS) | set(TOPICS) | {"checks", "course"}
    if layer == "grading":
        return set(FOUNDATIONS) | set(TOPICS) | {"checks", "course", "grading"}
    if layer == "":  # textrnn_lab/__init__.py
        return set()
    raise AssertionError(f"textrnn_lab/{layer} is in no layer: add it here and to CONTRIBUTING.md")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def layer_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def imports_of(module: str) -> list[tuple[str, int, bool]]:
    """(imported textrnn_lab module, line, at module level) for every import in ``module``, resolved."""
    path = MODULES[module]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    top_level = {id(node) for node in tree.body}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            # `from pkg import sub` imports the submodule pkg.sub when there is one
            names = [f"{source}.{a.name}" if f"{source}.{a.name}" in MODULES else source for a in node.names]
        else:
            continue
        for name in names:
            found.append((name, node.lineno, id(node) in top_level))
    return found


def internal_edges() -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {m: set() for m in MODULES}
    for module in MODULES:
        for name, _, _ in imports_of(module):
            if name.split(".")[0] != "textrnn_lab":
                continue
            while name not in MODULES and "." in name:  # `import textrnn_lab.x.y` of a name inside a module
                name = name.rsplit(".", 1)[0]
            if name != module:
                edges[module].add(name)
    return edges


def test_the_walker_sees_the_modules_and_their_imports():
    edges = internal_edges()
    assert "textrnn_lab.lm.model" in MODULES and "textrnn_lab.training.loop" in MODULES
    assert "textrnn_lab.layers.rnn" in edges["textrnn_lab.lm.model"]      # from ..layers.rnn import ...
    assert "textrnn_lab.lm.config" in edges["textrnn_lab.lm.model"]       # from .config import ...
    assert "textrnn_lab.lm.model" in edges["textrnn_lab.lm"]              # the package re-exports it


def test_every_import_follows_the_layering_rules():
    broken = []
    for module, targets in internal_edges().items():
        layer = layer_of(module)
        allowed = allowed_imports(layer)
        for target in sorted(targets):
            if layer_of(target) not in allowed:
                broken.append(f"{module} imports {target}")
    assert not broken, "imports against the layering rules:\n  " + "\n  ".join(broken)


def find_cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index, low, on_stack, stack, cycles = {}, {}, set(), [], []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(edges.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return cycles


def test_the_cycle_finder_finds_cycles():
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert find_cycles({"a": {"b"}, "b": set()}) == []


def test_there_is_no_import_cycle():
    cycles = find_cycles(internal_edges())
    assert not cycles, f"import cycles: {cycles}"


def test_heavy_libraries_are_imported_only_inside_functions():
    offenders = [f"{module}:{line} imports {name}" for module in MODULES
                 for name, line, top in imports_of(module) if top and name.split(".")[0] in HEAVY]
    assert not offenders, offenders


def test_the_top_level_holds_packages_not_loose_modules():
    loose = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert loose == ["__init__.py", "errors.py"], loose
    packages = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()}
    known = set(FOUNDATIONS) | set(TOPICS) | MACHINERY | {"checks"}
    assert packages <= known, f"unknown packages {packages - known}: give them a layer"


@pytest.mark.parametrize("package", sorted(p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()))
def test_each_package_docstring_lists_its_modules(package):
    init = PACKAGE / package / "__init__.py"
    doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))) or ""
    assert doc, f"textrnn_lab/{package}/__init__.py needs a docstring listing its modules in reading order"
    modules = sorted(p.stem for p in (PACKAGE / package).glob("*.py") if p.stem != "__init__")
    missing = [m for m in modules if f".{m}`" not in doc and f"``{m}``" not in doc and f"`{m}`" not in doc
               and not (m.startswith("chapter") and "chapterNN" in doc)]
    assert not missing, f"textrnn_lab/{package}/__init__.py's docstring does not name {missing}"
    if package in TOPICS:
        assert f"Chapter {CHAPTER_OF_TOPIC[package]}" in doc.split("\n", 1)[0]
    else:
        assert "chapter" in doc.lower() or package in MACHINERY, "say which chapter introduces it"


def test_one_atomic_writer():
    """Temporary file, fsync, rename: written once, in runtime/files.py; the rest call it."""
    writers = []
    for module, path in MODULES.items():
        if module == "textrnn_lab.runtime.files":
            continue
        text = path.read_text(encoding="utf-8")
        if "os.fsync(" in text or (".tmp" in text and "os.replace(" in text):
            writers.append(module)
    assert not writers, f"write files with textrnn_lab.runtime.files.atomic_write, not a copy of it: {writers}"
