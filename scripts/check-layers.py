#!/usr/bin/env python3
"""The dependency rule of Assay's layout (docs/architecture.md), checked on every #include.

Each folder may include only the folders below it:

    crypto      <- nothing but itself
    engine      <- crypto, schemas                  (the engine core)
    connectors  <- engine, formats, crypto, schemas   (input formats decode with formats/)
    formats     <- crypto
    registries  <- connectors, engine, crypto, schemas
    operators   <- registries, formats, engine, crypto, schemas
    sim         <- registries, connectors, formats, engine, crypto, schemas
    metrology   <- operators, registries, connectors, formats, engine, crypto, schemas
    cli         <- everything (the tool sits on top)

Exit 0 if every include follows the rule, 1 with one line per violation (file:line: ...).
"""
import pathlib
import re
import sys

ALLOWED = {
    "crypto": {"crypto"},
    "engine": {"engine", "crypto", "schemas"},
    "connectors": {"connectors", "engine", "formats", "crypto", "schemas"},
    "formats": {"formats", "crypto"},
    "registries": {"registries", "connectors", "engine", "crypto", "schemas"},
    "operators": {"operators", "registries", "formats", "engine", "crypto", "schemas"},
    "sim": {"sim", "registries", "connectors", "formats", "engine", "crypto", "schemas"},
    "metrology": {"metrology", "operators", "registries", "connectors", "formats", "engine",
                  "crypto", "schemas"},
}
PROJECT = set(ALLOWED) | {"schemas", "cli", "tests", "bench", "fuzz"}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([a-z_]+)/')

def main() -> int:
    root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else pathlib.Path(__file__).parent.parent)
    bad = []
    checked = 0
    for folder, allowed in ALLOWED.items():
        for path in sorted((root / folder).rglob("*")):
            if path.suffix not in (".cpp", ".hpp", ".h", ".cc"):
                continue
            checked += 1
            for n, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
                m = INCLUDE.match(line)
                if m and m.group(1) in PROJECT and m.group(1) not in allowed:
                    bad.append(f"{path.relative_to(root)}:{n}: {folder}/ includes {m.group(1)}/ "
                               f"(allowed: {', '.join(sorted(allowed))})")
    for b in bad:
        print(b)
    print(f"check-layers: {checked} files, {len(bad)} violation(s)")
    return 1 if bad else 0

if __name__ == "__main__":
    sys.exit(main())
