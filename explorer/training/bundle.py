"""One Python file assembled from the library's own source: what a few roots need, and nothing else.

The take-home script (explorer.training.export) is written this way, so its nets, recipe and batches are the
library's code, not a copy kept in step by hand. `Bundle.need(module, name)` finds the top-level statement that
defines `name` in that module's source (a def, a class, an assignment, with the comment lines just above it),
follows every global name it reads (through relative imports too), and keeps torch, torchvision and standard
library imports as imports. Values the code defines at run time are written from their current value: a
registry (filtered to the entries asked for), a tuple a test extended. A name two modules define differently
gets its module's name in front (`config_PLACEMENTS`), in its definition and where it is read.
Size budget: ~350 lines (values as source: explorer.training.literals).
"""
from __future__ import annotations

import ast
import importlib
import importlib.util
import inspect
import io
import sys
import tokenize
from dataclasses import dataclass, field

from .literals import import_block, is_constant, is_data, literal

IMPORTABLE = ("torch", "torchvision")  # besides the standard library: what the script may import
# The script is English: explorer.i18n's names are written as English stand-ins, not followed into the catalogues.
ENGLISH_MODULE = "explorer.i18n"
ENGLISH = {
    "_": "def _(message):\n    return message",
    "N_": "def N_(message):\n    return message",
    "ngettext": "def ngettext(singular, plural, n):\n    return singular if n == 1 else plural",
    "pct": "def pct(v, digits=1):\n    return f'{v:.{digits}f}%'",
    "num": "def num(v, digits=3):\n    return f'{v:.{digits}g}'",
    "count": "def count(n):\n    return f'{round(n):,}'",
    "decimal": "def decimal(v, digits=1):\n    return f'{v:,.{digits}f}'",
    "listing": "def listing(parts):\n    parts = [p for p in parts if p]\n"
               "    return ', '.join(parts[:-1]) + ' and ' + parts[-1] if len(parts) > 1 else ''.join(parts)",
}


class BundleError(RuntimeError):
    """Something the script needs cannot be written as source that imports only torch (a bug, not user input)."""


@dataclass
class _Item:
    """One top-level statement of the bundle."""

    key: tuple[str, str]  # (module, name) that it defines
    line: int  # where it stands in its module: the order within one module's group
    source: str  # the statement, names already renamed for the bundle
    early: set = field(default_factory=set)  # keys it needs while being defined (bases, decorators, values)


@dataclass
class _Module:
    """A module's parsed source and where each of its top-level names is bound."""

    name: str
    lines: list
    binders: dict  # name -> the top-level statement that binds it


def _bound_names(stmt: ast.stmt) -> set:
    """Names a top-level statement binds (imports, defs, classes, assignment targets, inside try/if too)."""
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {stmt.name}
    if isinstance(stmt, (ast.Import, ast.ImportFrom)):
        return {(a.asname or a.name).split(".")[0] for a in stmt.names}
    if isinstance(stmt, (ast.Try, ast.If)):
        inner = stmt.body + stmt.orelse + [s for h in getattr(stmt, "handlers", []) for s in h.body]
        return set().union(*(_bound_names(s) for s in inner)) if inner else set()
    targets = stmt.targets if isinstance(stmt, ast.Assign) else [getattr(stmt, "target", None)]
    return {n.id for t in targets if t is not None for n in ast.walk(t) if isinstance(n, ast.Name)}


class _Reads(ast.NodeVisitor):
    """Global names a statement reads; annotations are skipped (the script has `from __future__ import
    annotations`, so they are never evaluated). `early` keeps only what runs when the statement itself runs."""

    def __init__(self, early: bool) -> None:
        self.early = early
        self.names: set[str] = set()

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Load):
            self.names.add(node.id)

    def visit_arg(self, node: ast.arg) -> None:  # skip the annotation
        pass

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        if node.value is not None:
            self.visit(node.value)

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        for expr in [*node.decorator_list, *node.args.defaults, *node.args.kw_defaults]:
            if expr is not None:
                self.visit(expr)
        if not self.early:
            for stmt in node.body:
                self.visit(stmt)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Lambda(self, node: ast.Lambda) -> None:
        for expr in node.args.defaults:
            self.visit(expr)
        if not self.early:
            self.visit(node.body)


def _reads(stmt: ast.stmt, early: bool) -> set:
    visitor = _Reads(early)
    visitor.visit(stmt)
    return visitor.names


def _annotation_names(stmt: ast.stmt) -> set:
    """Names read in a statement's annotations (never evaluated in the script, but a reader's tools check them)."""
    found: set[str] = set()
    for node in ast.walk(stmt):
        notes = [getattr(node, "annotation", None), getattr(node, "returns", None)]
        found |= {n.id for note in notes if note is not None for n in ast.walk(note) if isinstance(n, ast.Name)}
    return found


def _rename(source: str, names: dict) -> str:
    """`source` with each NAME token in `names` renamed (attributes, after a dot, are left alone)."""
    if not names:
        return source
    out, previous = [], None
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.NAME and tok.string in names and previous != ".":
            tok = tok._replace(string=names[tok.string])
        out.append(tok)
        if tok.type not in (tokenize.NL, tokenize.NEWLINE, tokenize.COMMENT, tokenize.INDENT, tokenize.DEDENT):
            previous = tok.string
    return tokenize.untokenize(out)


def _importable(module: str) -> bool:
    root = module.split(".")[0]
    return root in IMPORTABLE or root in sys.stdlib_module_names


class Bundle:
    """The statements a set of roots needs, in an order that runs, with their imports.

    Args:
        overrides: {id(value): value to write instead}, e.g. a registry filtered to the entries used.
    """

    def __init__(self, overrides: dict | None = None) -> None:
        self.overrides = overrides or {}
        self.imports: set = {"from __future__ import annotations"}
        self._items: dict = {}  # key -> _Item (None while its dependencies are written)
        self._names: dict = {}  # bundle name -> key
        self._keys: dict = {}  # key -> bundle name
        self._modules: dict = {}
        self._order: list = []  # modules in the order they were first needed
        self._edges: dict = {}  # module -> modules whose definitions it reads
        self._direct: set | None = None  # collects what a value being written names directly

    # ----------------------------------------------------------------- sources
    def _module(self, name: str) -> _Module:
        if name not in self._modules:
            text = inspect.getsource(importlib.import_module(name))
            binders = {n: stmt for stmt in ast.parse(text).body for n in _bound_names(stmt)}
            self._modules[name] = _Module(name, text.splitlines(), binders)
        return self._modules[name]

    def where_defined(self, obj: object, package: str = "explorer") -> tuple[str, str]:
        """(module, name) of the module-level definition, under `package`, of a value such as a registry."""
        for module in sorted(m for m in sys.modules if m == package or m.startswith(package + ".")):
            for name, value in vars(sys.modules[module]).items():
                stmt = self._module(module).binders.get(name) if value is obj else None
                if stmt is not None and not isinstance(stmt, (ast.Import, ast.ImportFrom)):
                    return module, name
        raise BundleError(f"No module of {package} defines this {type(obj).__name__}.")

    # ----------------------------------------------------------------- names
    def name_for(self, key: tuple[str, str]) -> str:
        """The name `key` (module, name) has in the bundle: its own, or its module's last part in front."""
        if key not in self._keys:
            module, name = key
            wanted = name if name not in self._names else f"{module.rsplit('.', 1)[-1]}_{name}"
            while wanted in self._names:
                wanted += "_"
            self._names[wanted], self._keys[key] = key, wanted
        return self._keys[key]

    def need(self, module: str, name: str) -> str:
        """Make `name` of `module` available in the bundle (its definition and all it reads); returns its name there."""
        if module == ENGLISH_MODULE and name in ENGLISH:
            return self._english(name)
        mod = self._module(module)
        stmt = mod.binders.get(name)
        if stmt is None:
            raise BundleError(f"{module} has no top-level definition of {name}.")
        if isinstance(stmt, (ast.Import, ast.ImportFrom)):
            return self._imported(module, name, stmt)
        key = (module, name)
        bundle_name = self.name_for(key)
        if self._direct is not None:
            self._direct.add(key)
        if key in self._items:
            return bundle_name
        self._items[key] = None
        outer, self._direct = self._direct, None
        try:
            self._define(mod, stmt, key)
        finally:
            self._direct = outer
        return bundle_name

    def _english(self, name: str) -> str:
        key = (ENGLISH_MODULE, name)
        bundle_name = self.name_for(key)
        if key not in self._items:
            if ENGLISH_MODULE not in self._order:
                self._order.append(ENGLISH_MODULE)
            source = ENGLISH[name].replace(f"def {name}(", f"def {bundle_name}(")
            self._items[key] = _Item(key, len(self._items), source)
        return bundle_name

    def _define(self, mod: _Module, stmt: ast.stmt, key: tuple[str, str]) -> None:
        module, name = key
        if module not in self._order:
            self._order.append(module)
        value = getattr(sys.modules[module], name, None)
        if isinstance(stmt, (ast.Assign, ast.AnnAssign)) and self._from_value(stmt, value):
            source, reads = self._value_statement(mod, stmt, self.name_for(key), value)
            early = reads
        else:
            source, reads, early = self._statement(mod, stmt, key)
        self._edges.setdefault(module, set()).update(k[0] for k in reads if k[0] != module)
        self._items[key] = _Item(key, stmt.lineno, source, early)

    def _imported(self, module: str, name: str, stmt: ast.Import | ast.ImportFrom) -> str:
        alias = next(a for a in stmt.names if (a.asname or a.name).split(".")[0] == name)
        where = stmt.module if isinstance(stmt, ast.ImportFrom) else alias.name
        if isinstance(stmt, ast.ImportFrom) and (stmt.level or (where or "").split(".")[0] == "explorer"):
            source_module = importlib.util.resolve_name("." * stmt.level + (where or ""),
                                                        sys.modules[module].__package__)
            if alias.name not in self._module(source_module).binders:  # a submodule, `from . import blocks`
                raise BundleError(f"{module} imports the module {source_module}.{alias.name}; import its names.")
            return self.need(source_module, alias.name)
        if not _importable(where or ""):
            raise BundleError(f"{module} reads {name} from {where}, which the script cannot import.")
        one = ast.ImportFrom(where, [alias], 0) if isinstance(stmt, ast.ImportFrom) else ast.Import([alias])
        self.imports.add(ast.unparse(one))
        return name

    def _from_value(self, stmt: ast.Assign | ast.AnnAssign, value: object) -> bool:
        """Whether an assignment is written from its value now: a registry, or data its source does not spell out
        (computed, or changed since, as a registry a test extended)."""
        if id(value) in self.overrides:
            return True
        if not is_data(value) or _bound_names(stmt) != {_target(stmt)} or stmt.value is None:
            return False
        try:
            return bool(ast.literal_eval(stmt.value) != value)
        except ValueError:  # computed: write what it computed, which is what the library uses
            return True

    def _value_statement(self, mod: _Module, stmt: ast.stmt, name: str, value: object) -> tuple[str, set]:
        reads: set[tuple[str, str]] = set()
        self._direct = reads
        try:
            written = self.literal(self.overrides.get(id(value), value), 0)
        finally:
            self._direct = None
        comments = mod.lines[_start(mod, stmt): stmt.lineno - 1]
        return "\n".join([*comments, f"{name} = {written}"]), reads

    def _statement(self, mod: _Module, stmt: ast.stmt, key: tuple[str, str]) -> tuple[str, set, set]:
        for node in ast.walk(stmt):
            if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith("explorer")):
                raise BundleError(f"{key[0]}.{key[1]} imports from the library inside its body; import at the top.")
        renames, reads, early = {}, set(), set()
        early_reads = _reads(stmt, early=True)
        for read in sorted(_reads(stmt, early=False)):
            if read not in mod.binders:
                continue  # a builtin, or a local variable
            as_named = self.need(mod.name, read)
            if as_named != read:
                renames[read] = as_named
            if as_named in self._names:  # defined in the bundle (not imported)
                reads.add(self._names[as_named])
                if read in early_reads:
                    early.add(self._names[as_named])
        for note in sorted(_annotation_names(stmt) - _reads(stmt, early=False)):
            binder = mod.binders.get(note)
            if isinstance(binder, ast.ImportFrom) and not binder.level and _importable(binder.module or ""):
                self._imported(mod.name, note, binder)  # typing names and torch's: imported, as in the library
        if self.name_for(key) != key[1]:
            renames[key[1]] = self.name_for(key)
        source = "\n".join(mod.lines[_start(mod, stmt): stmt.end_lineno])
        return _rename(source, renames), reads, early

    # ----------------------------------------------------------------- values
    def need_object(self, obj: object) -> str:
        """A class or function by reference: imported from torch or the standard library, else its source."""
        module, name = getattr(obj, "__module__", None) or "", getattr(obj, "__qualname__", "")
        if "." in name or not name:
            raise BundleError(f"{obj!r} is not a top-level class or function, so the script cannot define it.")
        if _importable(module):
            self.imports.add(f"from {module} import {name}")
            return name
        return self.need(module, name)

    def literal(self, value: object, indent: int, skip_defaults: bool = False) -> str:
        """Python source for a value (explorer.training.literals), defining the classes and functions it names."""
        return literal(value, indent, self.need_object, skip_defaults)

    # ----------------------------------------------------------------- the file
    def render(self, after_imports: str = "") -> str:
        """The imports, `after_imports`, then every definition: grouped by module (a module after those it reads),
        in source order within one, moved later only where it needs another while being defined; each group
        under its path."""
        rank = {m: i for i, m in enumerate(self._module_order())}
        items = sorted(self._items.values(), key=lambda i: (rank[i.key[0]], i.line))
        done: set = set()
        ordered: list = []
        while items:
            ready = next((i for i in items if i.early <= done | {i.key}), items[0])
            items.remove(ready)
            ordered.append(ready)
            done.add(ready.key)
        text = import_block(self.imports) + "\n\n\n" + (after_imports + "\n\n\n" if after_imports else "")
        module, previous = None, ""
        for item in ordered:
            if item.key[0] != module:
                module = item.key[0]
                text += f"# {'-' * 77} from {module.replace('.', '/')}.py\n"
            elif is_constant(previous) and is_constant(item.source):
                text = text[:-1]  # one blank line between constants, two around definitions
            text += item.source + "\n\n\n"
            previous = item.source
        return text.rstrip("\n") + "\n"

    def _module_order(self) -> list:
        """Modules after those they read (depth first, in the order first needed; a cycle is cut where found)."""
        order: list = []

        def visit(module: str, path: tuple) -> None:
            if module in order or module in path:
                return
            for dep in sorted(self._edges.get(module, ()), key=self._order.index):
                visit(dep, (*path, module))
            order.append(module)

        for module in self._order:
            visit(module, ())
        return order


def _target(stmt: ast.Assign | ast.AnnAssign) -> str | None:
    target = stmt.targets[0] if isinstance(stmt, ast.Assign) else stmt.target
    return target.id if isinstance(target, ast.Name) else None


def _start(mod: _Module, stmt: ast.stmt) -> int:
    """Index of a statement's first line: its decorators, and the comment lines just above (not a section rule)."""
    first = min([stmt.lineno, *(d.lineno for d in getattr(stmt, "decorator_list", []))]) - 1
    while first > 0 and mod.lines[first - 1].lstrip().startswith("#") and not mod.lines[first - 1].startswith("# --"):
        first -= 1
    return first
