#!/usr/bin/env python3
"""Reports cycles between the modules of a crate, from its `use crate::…`, `super::…` and
inline `crate::…` paths (test modules left out).

    .ci/module_cycles.py sync-server/src          # top-level modules
    .ci/module_cycles.py sync-server/src --files  # every module (file)

Exits 1 when a cycle is found, listing each cycle's modules and the edges inside it.
"""
import re
import sys
from collections import defaultdict
from pathlib import Path


def module_of(root: Path, path: Path) -> tuple:
    rel = path.relative_to(root).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] in ("mod", "lib", "main"):
        parts = parts[:-1]
    return tuple(parts)


def strip_tests(text: str) -> str:
    """Drops `#[cfg(test)]` items (test modules import whatever they test with)."""
    out, i = [], 0
    for m in re.finditer(r"#\[cfg\(test\)\]\s*", text):
        if m.start() < i:
            continue
        out.append(text[i:m.start()])
        j = m.end()
        # The item: up to its `;` or its matching closing brace.
        depth, k = 0, j
        while k < len(text):
            c = text[k]
            if c == "{":
                depth += 1
            elif c == "}":
                depth -= 1
                if depth == 0:
                    k += 1
                    break
            elif c == ";" and depth == 0:
                k += 1
                break
            k += 1
        i = k
    out.append(text[i:])
    return "".join(out)


def strip_comments(text: str) -> str:
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return re.sub(r"//[^\n]*", "", text)


def expand(tree: str) -> list:
    """`a::{b, c::{d, e}}` -> [a::b, a::c::d, a::c::e]."""
    tree = tree.strip()
    m = re.match(r"^(.*?)\{(.*)\}$", tree, re.S)
    if not m:
        return [tree]
    prefix, inner = m.group(1), m.group(2)
    items, depth, cur = [], 0, ""
    for c in inner:
        if c == "," and depth == 0:
            items.append(cur)
            cur = ""
            continue
        depth += c == "{"
        depth -= c == "}"
        cur += c
    items.append(cur)
    out = []
    for it in items:
        if it.strip():
            out += [prefix + e for e in expand(it)]
    return out


def resolve(path: str, here: tuple, is_mod_file: bool):
    segs = [s.strip() for s in path.split("::")]
    segs = [re.sub(r"\s+as\s+\w+$", "", s) for s in segs]
    if segs[0] == "crate":
        return tuple(segs[1:])
    base = list(here)
    if segs[0] == "self":
        return tuple(base + segs[1:])
    if segs[0] == "super":
        while segs and segs[0] == "super":
            base = base[:-1]
            segs = segs[1:]
        return tuple(base + segs)
    return None


def main():
    root = Path(sys.argv[1])
    files_level = "--files" in sys.argv
    modules = {}
    for p in sorted(root.rglob("*.rs")):
        if p.name == "tests.rs" or p.name == "main.rs" and p.parent == root:
            continue
        if p.parent == root and p.name == "admin.rs":
            continue  # the binary's module
        modules[module_of(root, p)] = p
    known = set(modules)
    texts = {mod: strip_comments(strip_tests(p.read_text())) for mod, p in modules.items()}
    # Re-exports (`pub use child::Item;`) are a module's façade, not a use of it: a path that
    # names an item through one is followed to the module that defines the item.
    reexports = {}
    for mod, text in texts.items():
        for m in re.finditer(r"\bpub(?:\([^)]*\))?\s+use\s+([^;]*);", text, re.S):
            for path in expand(m.group(1)):
                path = re.sub(r"\s+as\s+(\w+)$", r"", path.strip())
                alias = re.search(r"\s+as\s+(\w+)$", m.group(1))
                name = path.split("::")[-1].strip()
                if name in ("self", "*"):
                    continue
                first = path.split("::")[0]
                if first not in ("crate", "super", "self"):
                    path = "self::" + path
                target = resolve(path, mod, False)
                if target:
                    reexports[(mod, name)] = target
    edges = defaultdict(set)
    for mod, p in modules.items():
        text = texts[mod]
        paths = []
        for m in re.finditer(r"(?<!pub )(?<!\) )\buse\s+((?:crate|super|self)::[^;]*);", text, re.S):
            paths += expand(m.group(1))
        body = re.sub(r"\buse\s+[^;]*;", "", text)
        paths += re.findall(r"\b(?:crate|super)(?:::\w+)+", body)
        # Child modules named without a prefix (`mod sync;` ... `sync::handle`).
        children = re.findall(r"^\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+(\w+)\s*;", text, re.M)
        for child in children:
            for m in re.finditer(r"(?<![\w:])" + child + r"::\w+", body):
                paths.append("self::" + m.group(0))
            for m in re.finditer(r"(?<!pub )(?<!\) )\buse\s+(" + child + r"::[^;]*);", text, re.S):
                paths += ["self::" + e for e in expand(m.group(1))]
        for path in paths:
            target = resolve(path, mod, p.name == "mod.rs")
            if target is None:
                continue
            # Through re-exports, to where the item is defined.
            for _ in range(8):
                head, rest = target, ()
                while head and head not in known:
                    head, rest = head[:-1], (head[-1],) + rest
                if rest and (head, rest[0]) in reexports:
                    target = reexports[(head, rest[0])] + rest[1:]
                    continue
                break
            # The longest module this path names.
            while target and target not in known:
                target = target[:-1]
            if not target:
                continue
            a, b = mod, target
            if not files_level:
                a, b = a[:1], b[:1]
            if a and b and a != b:
                edges[a].add((b, path, str(p.relative_to(root))))
    # Strongly connected components (Tarjan).
    graph = {a: {b for b, _, _ in es} for a, es in edges.items()}
    index, low, stack, on, sccs, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                sccs.append(comp)

    sys.setrecursionlimit(10000)
    for v in list(graph):
        if v not in index:
            visit(v)
    name = lambda m: "::".join(m) or "crate"
    if not sccs:
        print(f"no cycles between {'modules' if files_level else 'top-level modules'} of {root}")
        return 0
    for comp in sccs:
        members = set(comp)
        print("cycle:", ", ".join(sorted(name(m) for m in comp)))
        for a in sorted(comp):
            for b, path, f in sorted(edges[a]):
                if b in members:
                    print(f"  {name(a)} -> {name(b)}   ({path} in {f})")
    return 1


if __name__ == "__main__":
    sys.exit(main())
