#!/usr/bin/env python3
"""List the module cycles inside each crate of the workspace (exit 1 when there is one).

A module is a source file (`lib.rs` is the crate root, `a.rs` or `a/mod.rs` is `a`, `a/b.rs` is
`a::b`); inline modules (`mod tests { ... }`) count as part of their file. Module A depends on
module B when A names B or an item of B: in a `use` (nested braces included), or in a path in
the code (`crate::b::f`, `super::b::T`, `self::b`, or a child module's name). A name a module
re-exports (`pub use b::T`) is followed to the module that defines it, so a child naming an
item through `crate::` or `super::` depends on where the item lives, not on the re-exporting
parent. Declaring a module (`mod b;`) is not a dependency.

Usage: scripts/module-cycles.py [CRATE_DIR...]   (default: every member of the workspace)
"""

import re
import subprocess
import sys
import json
from pathlib import Path

IDENT = r"[A-Za-z_][A-Za-z0-9_]*"


def strip_comments_and_strings(text):
    """Blank out comments, string and char literals (keeping line structure)."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            i = j
            continue
        if text.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if text.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif text.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            out.append("\n" * text.count("\n", i, j))
            i = j
            continue
        m = re.match(r'r(#*)"', text[i:]) if c == "r" and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")) else None
        if m:
            end = '"' + m.group(1)
            j = text.find(end, i + len(m.group(0)))
            j = n if j < 0 else j + len(end)
            out.append('""' + "\n" * text.count("\n", i, j))
            i = j
            continue
        if c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append('""' + "\n" * text.count("\n", i, j))
            i = j + 1
            continue
        if c == "'":
            # a char literal ('a', '\n', '\u{..}'), not a lifetime ('a)
            m = re.match(r"'(\\u\{[0-9a-fA-F]+\}|\\.|[^\\'])'", text[i:])
            if m:
                out.append("' '")
                i += len(m.group(0))
                continue
        out.append(c)
        i += 1
    return "".join(out)


def module_files(src):
    """module path (tuple) -> file, for every .rs file under src."""
    mods = {}
    for f in sorted(src.rglob("*.rs")):
        rel = f.relative_to(src).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] in ("lib", "main") and len(parts) == 1:
            parts = []
        elif parts[-1] == "mod":
            parts = parts[:-1]
        elif parts[-1] == "main" or parts[0] == "bin":
            continue
        mods[tuple(parts)] = f
    return mods


def use_paths(tree, prefix=()):
    """Expand a use tree (`a::{b, c::{d, e as f}}`) into (path, local name) pairs."""
    tree = tree.strip()
    out = []
    depth, start, parts = 0, 0, []
    # split at top-level commas
    for i, c in enumerate(tree):
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
        elif c == "," and depth == 0:
            parts.append(tree[start:i])
            start = i + 1
    parts.append(tree[start:])
    for part in parts:
        part = part.strip()
        if not part:
            continue
        brace = part.find("{")
        if brace >= 0:
            head = part[:brace].rstrip().rstrip(":").rstrip(":")
            inner = part[brace + 1 : part.rfind("}")]
            segs = tuple(s for s in head.split("::") if s) if head else ()
            out.extend(use_paths(inner, prefix + segs))
            continue
        alias = None
        m = re.match(r"(.*?)\s+as\s+(" + IDENT + r")$", part)
        if m:
            part, alias = m.group(1), m.group(2)
        segs = prefix + tuple(s.strip() for s in part.split("::") if s.strip())
        if segs and segs[-1] == "self":
            segs = segs[:-1]
        if segs:
            out.append((segs, alias or segs[-1]))
    return out


class Crate:
    def __init__(self, src):
        self.src = src
        self.files = module_files(src)
        self.mods = set(self.files)
        self.text = {m: strip_comments_and_strings(f.read_text()) for m, f in self.files.items()}
        self.defined = {m: self.defined_names(t) for m, t in self.text.items()}
        self.reexports = {m: self.reexported(m) for m in self.mods}

    @staticmethod
    def defined_names(text):
        pat = r"^\s*(?:pub(?:\([^)]*\))?\s+)?(?:const\s+fn|async\s+fn|unsafe\s+fn|fn|struct|enum|trait|type|const|static|union|macro_rules!)\s+(" + IDENT + ")"
        return set(re.findall(pat, text, re.M))

    def uses(self, module):
        """(absolute-ish path segments, inline-module depth path) of every `use`."""
        text = self.text[module]
        found = []
        for m in re.finditer(r"\b(pub(?:\([^)]*\))?\s+)?use\s+([^;]+);", text):
            line_start = text.rfind("\n", 0, m.start()) + 1
            inline = self.inline_path(text, m.start())
            for segs, alias in use_paths(m.group(2)):
                found.append((segs, alias, inline, bool(m.group(1))))
        return found

    @staticmethod
    def inline_path(text, offset):
        """The inline modules (`mod x {`) enclosing offset."""
        stack = []
        depth = 0
        pending = None
        for m in re.finditer(r"\bmod\s+(" + IDENT + r")\s*\{|[{}]", text[:offset]):
            tok = m.group(0)
            if tok.startswith("mod"):
                depth += 1
                stack.append((m.group(1), depth))
            elif tok == "{":
                depth += 1
            else:
                if stack and stack[-1][1] == depth:
                    stack.pop()
                depth -= 1
        return tuple(name for name, _ in stack)

    def absolute(self, module, inline, segs):
        """Resolve a path's leading `crate`/`self`/`super` against the module it is in."""
        here = list(module) + list(inline)
        segs = list(segs)
        if not segs:
            return None
        if segs[0] == "crate":
            return tuple(segs[1:])
        if segs[0] in ("self", "super"):
            base = here
            while segs and segs[0] in ("self", "super"):
                if segs[0] == "super":
                    base = base[:-1]
                segs = segs[1:]
            return tuple(base) + tuple(segs)
        # a child module named without a prefix (2018 uniform paths)
        child = tuple(here) + (segs[0],)
        if tuple(module) + (segs[0],) in self.mods and not inline:
            return tuple(module) + tuple(segs)
        if child in self.mods:
            return child + tuple(segs[1:])
        return None  # an external crate or std

    def reexported(self, module):
        out = {}
        for segs, alias, inline, public in self.uses(module):
            if not public or inline:
                continue
            target = self.absolute(module, inline, segs)
            if target is None:
                continue
            out[alias] = target
        return out

    def resolve(self, path, seen=()):
        """The module defining the item at `path` (longest module prefix, re-exports followed)."""
        path = tuple(path)
        for k in range(len(path), -1, -1):
            prefix = path[:k]
            if prefix in self.mods:
                rest = path[k:]
                if rest and rest[0] in self.reexports.get(prefix, {}) and rest[0] not in self.defined[prefix] and path not in seen:
                    return self.resolve(self.reexports[prefix][rest[0]] + rest[1:], seen + (path,))
                return prefix
        return None

    def edges(self):
        graph = {m: set() for m in self.mods}
        for module in self.mods:
            text = self.text[module]
            targets = set()
            for segs, alias, inline, public in self.uses(module):
                if segs and segs[-1] == "*":
                    segs = segs[:-1]
                p = self.absolute(module, inline, segs)
                if p is not None:
                    targets.add(self.resolve(p))
            body = re.sub(r"\b(pub(?:\([^)]*\))?\s+)?use\s+[^;]+;", "", text)
            for m in re.finditer(r"(?<![A-Za-z0-9_:])((?:crate|self|super)(?:::(?:super|" + IDENT + r"))+)", body):
                segs = m.group(1).split("::")
                inline = self.inline_path(body, m.start())
                p = self.absolute(module, inline, segs)
                if p is not None:
                    targets.add(self.resolve(p))
            # child modules named in code: `child::item`
            for m in re.finditer(r"(?<![A-Za-z0-9_:])(" + IDENT + r")::(" + IDENT + r")", body):
                child = tuple(module) + (m.group(1),)
                if child in self.mods:
                    targets.add(self.resolve(child + (m.group(2),)))
            targets.discard(None)
            targets.discard(module)
            graph[module] = targets
        return graph


def sccs(graph):
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
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
            out.append(comp)

    sys.setrecursionlimit(10000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return [c for c in out if len(c) > 1]


def name(m):
    return "::".join(m) if m else "crate"


def members():
    meta = json.loads(subprocess.check_output(["cargo", "metadata", "--no-deps", "--format-version", "1"]))
    return [Path(p["manifest_path"]).parent for p in meta["packages"]]


def main():
    dirs = [Path(d) for d in sys.argv[1:]] or members()
    found = 0
    for d in dirs:
        src = d / "src"
        if not src.is_dir():
            continue
        crate = Crate(src)
        graph = crate.edges()
        cycles = sccs(graph)
        for comp in cycles:
            found += 1
            comp_set = set(comp)
            arrows = []
            for a in sorted(comp):
                for b in sorted(graph[a] & comp_set):
                    arrows.append(f"{name(a)} -> {name(b)}")
            print(f"{d.name}: cycle among {', '.join(sorted(name(m) for m in comp))}")
            for arrow in arrows:
                print(f"    {arrow}")
    if found == 0:
        print(f"no module cycles in {len(dirs)} crates")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
