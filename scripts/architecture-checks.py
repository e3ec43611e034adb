#!/usr/bin/env python3
"""The server's shape, checked on every CI run (README, "How data flows"):

- no function outside tests longer than 80 lines (server, simulator, migrations);
- no import cycle among the server's modules, file by file and folder by folder (`config` and `domain`
  are leaves, `rules` is pure);
- `rules/` does no I/O: no database handle, no HTTP client, no async function;
- the service returns no `serde_json::Value` and no `Result<_, String>` (it returns models and typed views;
  `views` writes the JSON);
- migrations never build tables from the entities (`create_table_from_entity`).

Prints each finding and exits 1 if there is any.
"""

import re
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SERVER = ROOT / "server" / "src"
MAX_FUNCTION_LINES = 80


def without_tests(text: str) -> str:
    """The file up to its `#[cfg(test)]` module (tests come last in every file here)."""
    cut = text.find("#[cfg(test)]")
    return text if cut < 0 else text[:cut]


def without_comments(text: str) -> str:
    return re.sub(r"//.*", "", text)


def long_functions(path: Path):
    lines = without_tests(path.read_text()).split("\n")
    i = 0
    while i < len(lines):
        m = re.match(r"^(\s*)(pub(\([a-z]+\))? )?(async )?(const )?fn (\w+)", lines[i])
        if not m:
            i += 1
            continue
        indent, name = m.group(1), m.group(6)
        j = i
        while j < len(lines) and not lines[j].rstrip().endswith(("{", ";")):
            j += 1
        if j >= len(lines) or lines[j].rstrip().endswith(";"):
            i += 1
            continue
        k = j + 1
        while k < len(lines) and not lines[k].startswith(indent + "}"):
            k += 1
        if k - i + 1 > MAX_FUNCTION_LINES:
            yield f"{path.relative_to(ROOT)}:{i + 1}: fn {name} is {k - i + 1} lines (at most {MAX_FUNCTION_LINES})"
        i = k + 1


def module_of(path: Path) -> str:
    parts = list(path.relative_to(SERVER).with_suffix("").parts)
    if parts[-1] == "mod":
        parts.pop()
    return "::".join(parts)


def module_graph():
    files = [p for p in SERVER.rglob("*.rs") if p.name not in ("main.rs", "lib.rs")]
    modules = {module_of(p) for p in files}
    graph = defaultdict(set)
    for path in files:
        here = module_of(path)
        text = without_comments(without_tests(path.read_text()))
        refs = re.findall(r"crate::([a-z_]+(?:::[a-z_]+)?)", text)
        parent = "::".join(here.split("::")[:-1])
        refs += [f"{parent}::{r}" if parent else r for r in re.findall(r"\bsuper::([a-z_]+)", text)]
        for ref in refs:
            target = ref if ref in modules else ref.split("::")[0]
            if target in modules and target != here and not here.startswith(target + "::"):
                graph[here].add(target)
    return graph


def cycles(graph):
    def reaches(start, goal):
        seen, stack = set(), [start]
        while stack:
            node = stack.pop()
            if node == goal:
                return True
            for nxt in graph.get(node, ()):
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append(nxt)
        return False

    for a in sorted(graph):
        for b in sorted(graph[a]):
            if reaches(b, a):
                yield f"import cycle: {a} -> {b} -> … -> {a}"


def impure_rules():
    forbidden = [
        (r"\bDatabaseConnection\b|\bDatabaseTransaction\b|\bPageTxn\b", "a database handle"),
        (r"\bawc::", "an HTTP client"),
        (r"\basync fn\b|\.await\b", "async code"),
    ]
    for path in sorted((SERVER / "rules").rglob("*.rs")):
        text = without_comments(without_tests(path.read_text()))
        for pattern, what in forbidden:
            if re.search(pattern, text):
                yield f"{path.relative_to(ROOT)}: rules are pure, but this file uses {what}"


def service_returns():
    for path in sorted((SERVER / "service").rglob("*.rs")):
        text = without_comments(without_tests(path.read_text()))
        for m in re.finditer(r"pub (async )?fn (\w+)[^{;]*->\s*([^{;]+)", text):
            returned = m.group(3)
            if "Value" in returned or re.search(r"Result<[^>]*,\s*String>", returned):
                yield f"{path.relative_to(ROOT)}: fn {m.group(2)} returns {returned.strip()}"


def entity_built_tables():
    for path in sorted((ROOT / "migration" / "src").glob("*.rs")):
        if "create_table_from_entity" in without_comments(path.read_text()):
            yield f"{path.relative_to(ROOT)}: builds a table from an entity"


def main() -> int:
    findings = []
    for base in (SERVER, ROOT / "simulator" / "src", ROOT / "migration" / "src"):
        for path in sorted(base.rglob("*.rs")):
            findings += long_functions(path)
    graph = module_graph()
    findings += cycles(graph)
    # And among the top-level modules (folders): `rules` may not use `store` if `store` uses `rules`.
    top = defaultdict(set)
    for a, targets in graph.items():
        for b in targets:
            if a.split("::")[0] != b.split("::")[0]:
                top[a.split("::")[0]].add(b.split("::")[0])
    findings += cycles(top)
    findings += impure_rules()
    findings += service_returns()
    findings += entity_built_tables()
    for finding in findings:
        print(finding)
    if findings:
        return 1
    print("architecture checks: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
