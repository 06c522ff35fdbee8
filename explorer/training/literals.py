"""Values as Python source: literals for plain data, dataclass instances as calls, and an import block.

explorer.training.bundle writes the take-home script with these: a registry filtered to the entries an experiment
uses, the experiment's configs (`ModelConfig(depth=20, shortcut='none')`), its stored names, always through repr.
Size budget: ~120 lines.
"""
from __future__ import annotations

import ast
import dataclasses
import inspect
import math
import sys
from collections.abc import Callable

PLAIN = (type(None), bool, int, float, str)
WIDTH = 110  # a literal longer than this is written over several lines


def literal(value: object, indent: int, name_of: Callable[[object], str], skip_defaults: bool = False) -> str:
    """Python source for a value: plain data, dataclass instances as calls, classes and functions by name.

    Args:
        value: what to write. indent: the column its first line starts at (long ones wrap).
        name_of: the name a class or function goes by where the literal is read (it may define it there).
        skip_defaults: write only the fields of a dataclass instance that differ from their defaults.
    """
    if isinstance(value, float) and not math.isfinite(value):
        return f"float({str(value)!r})"
    if isinstance(value, str) and len(value) > WIDTH - indent - 20:
        return long_string(value, indent)
    if isinstance(value, PLAIN):
        return repr(value)
    if inspect.isclass(value) or inspect.isfunction(value):
        return name_of(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = [f for f in dataclasses.fields(value) if f.init]
        if skip_defaults:
            fields = [f for f in fields if f.default is dataclasses.MISSING or getattr(value, f.name) != f.default]
        parts = [f"{f.name}={literal(getattr(value, f.name), indent + 4, name_of, skip_defaults)}" for f in fields]
        return join(f"{name_of(type(value))}(", parts, ")", indent)
    if isinstance(value, dict):
        parts = [f"{literal(k, indent + 4, name_of)}: {literal(v, indent + 4, name_of, skip_defaults)}"
                 for k, v in value.items()]
        return join("{", parts, "}", indent)
    if isinstance(value, (tuple, list)):
        parts = [literal(v, indent + 4, name_of, skip_defaults) for v in value]
        if isinstance(value, list):
            return join("[", parts, "]", indent)
        return join("(", parts, ",)" if len(parts) == 1 else ")", indent)
    raise TypeError(f"A {type(value).__name__} cannot be written as Python source.")


def is_data(value: object) -> bool:
    """Plain data, dataclass instances of it, classes and functions: what `literal` can write."""
    if isinstance(value, PLAIN) or inspect.isclass(value) or inspect.isfunction(value):
        return True
    if isinstance(value, (tuple, list)):
        return all(is_data(v) for v in value)
    if isinstance(value, dict):
        return all(is_data(k) and is_data(v) for k, v in value.items())
    if dataclasses.is_dataclass(value):
        return all(is_data(getattr(value, f.name)) for f in dataclasses.fields(value))
    return False


def join(opening: str, parts: list, closing: str, indent: int) -> str:
    """`opening` parts `closing` on one line if it fits, else one part a line (each with a trailing comma)."""
    flat = opening + ", ".join(parts) + closing
    if len(flat) + indent <= WIDTH and "\n" not in flat:
        return flat
    pad = " " * (indent + 4)
    return opening + "\n" + "".join(f"{pad}{p},\n" for p in parts) + " " * indent + closing.lstrip(",")


def long_string(value: str, indent: int) -> str:
    """A long string as adjacent literals in parentheses, broken after spaces (the value is unchanged)."""
    chunks, line = [], ""
    for word in value.split(" "):
        if line and len(line) + len(word) > WIDTH - indent - 12:
            chunks.append(line)
            line = ""
        line += word + " "
    chunks.append(line[:-1])
    pad = " " * (indent + 4)
    return "(\n" + "".join(f"{pad}{c!r}\n" for c in chunks) + " " * indent + ")"


def is_constant(source: str) -> bool:
    """A one-line `NAME = value` (comment lines above allowed): such neighbours get one blank line, not two."""
    code = [line for line in source.splitlines() if not line.lstrip().startswith("#")]
    return len(code) == 1 and " = " in code[0] and code[0].split(" = ")[0].isidentifier()


def import_block(lines: set) -> str:
    """Import lines as isort writes them: the future, the standard library, then torch; `import` before `from`."""
    plain: set[str] = set()
    froms: dict[str, set[str]] = {}
    for line in lines:
        node = ast.parse(line).body[0]
        if isinstance(node, ast.ImportFrom):
            froms.setdefault(node.module or "", set()).update(a.name + (f" as {a.asname}" if a.asname else "")
                                                        for a in node.names)
        else:
            plain.add(line)
    future = froms.pop("__future__", set())
    sections = []
    for std in (True, False):
        section = sorted(p for p in plain if (p.split()[1].split(".")[0] in sys.stdlib_module_names) == std)
        section += [f"from {m} import {', '.join(sorted(froms[m]))}" for m in sorted(froms)
                    if (m.split(".")[0] in sys.stdlib_module_names) == std]
        sections.append("\n".join(section))
    return "\n\n".join(["from __future__ import " + ", ".join(sorted(future)), *filter(None, sections)])
