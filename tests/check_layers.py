#!/usr/bin/env python3
"""check_layers.py - enforce the layer rules of finsim's source tree.

The folders of src/ (and of include/finsim/) are layers, lowest first:

    base < trade < {pricing, store, market, output} < job < cmd

Rules (docs/DESIGN.md, "Layers"):
  1. A file includes finsim headers only from its own layer or from layers
     below it; the four middle layers never include one another.
  2. A private header (#include "name.h", no folder) is one that sits beside
     the including file or, for a file in a subfolder of src/<layer>/, in
     src/<layer>/ itself; nothing reaches into another folder with "../".
  3. Each third-party library is used in its declared layers only.
  4. There are no include cycles among finsim's own headers.

    check_layers.py [ROOT]       check the tree at ROOT (default: the repo)
    check_layers.py --self-test  also prove that each rule catches a breach

Exit status: 0 clean, 1 violations (one line each on stderr), 2 usage.
"""
import os
import re
import shutil
import sys
import tempfile

ORDER = ["base", "trade", "pricing", "store", "market", "output", "job", "cmd"]
MIDDLE = {"pricing", "store", "market", "output"}


def allowed(layer):
    """The finsim layers a file of `layer` may include."""
    if layer == "base":
        return {"base"}
    if layer == "trade":
        return {"base", "trade"}
    if layer in MIDDLE:
        return {"base", "trade", layer}
    if layer == "job":
        return {"base", "trade", "job"} | MIDDLE
    return set(ORDER)  # cmd


# third-party header prefix -> the layers that may include it directly
THIRD_PARTY = {
    "hdf5.h": {"trade", "store", "output"},
    "H5": {"trade", "store", "output"},
    "gsl/": {"trade", "pricing"},
    "expat.h": {"trade"},
    "ini.h": {"base"},
    "fast_float/": {"base"},
    "curl/": {"market"},
    "jansson.h": {"market"},
    "hiredis/": {"store"},
    "openssl/": {"store"},
}

INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')


def layer_of(rel):
    """Layer of a path relative to ROOT, or None when outside the layers."""
    parts = rel.split(os.sep)
    if parts[0] == "src" and len(parts) > 2:
        return parts[1]
    if parts[:2] == ["include", "finsim"] and len(parts) > 3:
        return parts[2]
    return None


def private_home(root, rel, where, layer, name):
    """The folder of the private header `name` that `rel` includes: beside
    it, or, for a source in a subfolder of src/<layer>/, the layer's own
    folder (src/store/backend.h for src/store/redis/*.c, found through the
    layer's include path). None when there is no such header."""
    if "/" in name:
        return None
    if os.path.exists(os.path.join(root, where, name)):
        return where
    top = os.path.join("src", layer)
    if rel.startswith(top + os.sep) and os.path.exists(os.path.join(root, top, name)):
        return top
    return None


def sources(root):
    for top in ("src", os.path.join("include", "finsim")):
        for d, _, files in os.walk(os.path.join(root, top)):
            for f in sorted(files):
                if f.endswith((".c", ".cc", ".h")):
                    yield os.path.relpath(os.path.join(d, f), root)


def check(root):
    errors = []
    graph = {}  # header -> headers it includes (finsim's own)
    for rel in sources(root):
        layer = layer_of(rel)
        where = os.path.dirname(rel)
        if layer not in ORDER:
            if rel.startswith("src" + os.sep) and os.path.dirname(rel) != "src":
                errors.append(f"{rel}: folder '{layer}' is not a layer ({', '.join(ORDER)})")
            elif os.path.dirname(rel) == "src":
                errors.append(f"{rel}: sources live in a layer folder, not in src/ itself")
            continue
        deps = graph.setdefault(rel, [])
        with open(os.path.join(root, rel), encoding="utf-8", errors="replace") as fh:
            for n, line in enumerate(fh, 1):
                m = INCLUDE.match(line)
                if not m:
                    continue
                kind, name = m.groups()
                at = f"{rel}:{n}"
                if kind == "<":
                    for prefix, layers in THIRD_PARTY.items():
                        if name.startswith(prefix) and layer not in layers:
                            errors.append(f"{at}: <{name}> belongs to {'/'.join(sorted(layers))}, "
                                          f"not to {layer}")
                    continue
                if ".." in name.split("/"):
                    errors.append(f"{at}: \"{name}\" reaches into another folder with '..'")
                    continue
                if name.startswith("finsim/"):
                    parts = name.split("/")
                    target = parts[1] if len(parts) > 2 else None
                    if target not in ORDER:
                        errors.append(f"{at}: \"{name}\" is not under a layer folder")
                        continue
                    if target not in allowed(layer):
                        errors.append(f"{at}: layer {layer} may not include {target} (\"{name}\")")
                    gen = name.endswith("config_build.h")
                    if not gen:
                        deps.append(os.path.join("include", name))
                    continue
                home = private_home(root, rel, where, layer, name)
                if home is None:
                    errors.append(f"{at}: private header \"{name}\" is not beside {rel}")
                    continue
                deps.append(os.path.join(home, name))
    errors += cycles(graph)
    return errors


def cycles(graph):
    """One line per include cycle among the headers in graph."""
    out, state = [], {}

    def visit(node, stack):
        state[node] = 1
        for dep in graph.get(node, []):
            if state.get(dep) == 1:
                loop = stack[stack.index(dep):] + [dep] if dep in stack else [node, dep]
                out.append("include cycle: " + " -> ".join(loop))
            elif dep not in state:
                visit(dep, stack + [dep])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    return out


def self_test(root):
    """Each rule must catch a breach planted in a copy of the tree."""
    breaches = [
        ("src/store/store.c", '#include "finsim/market/market.h"\n', "may not include market"),
        ("src/base/util.c", '#include "finsim/trade/trade.h"\n', "may not include trade"),
        ("src/trade/trade.c", '#include "../store/store_file.c"\n', "reaches into another folder"),
        ("src/pricing/mc.c", '#include "store_redis.h"\n', "is not beside"),
        ("src/market/market.c", '#include "backend.h"\n', "is not beside"),
        ("src/market/market.c", "#include <hiredis/hiredis.h>\n", "belongs to store"),
        ("src/output/h5out.c", "#include <curl/curl.h>\n", "belongs to market"),
        ("include/finsim/base/util.h", '#include "finsim/base/config.h"\n', None),
    ]
    failures = 0
    for path, line, expect in breaches:
        tmp = tempfile.mkdtemp(prefix="finsim-layers.")
        try:
            for top in ("src", "include"):
                shutil.copytree(os.path.join(root, top), os.path.join(tmp, top))
            target = os.path.join(tmp, path)
            if expect is None:
                # a cycle: config.h includes util.h; make util.h include config.h
                with open(os.path.join(tmp, "include/finsim/base/config.h"), "a") as fh:
                    fh.write('#include "finsim/base/util.h"\n')
                expect = "include cycle"
            with open(target) as fh:
                text = fh.read()
            with open(target, "w") as fh:
                fh.write(line + text)
            errs = check(tmp)
            if not any(expect in e for e in errs):
                print(f"self-test FAILED: planting {line.strip()!r} in {path} gave no "
                      f"'{expect}' error (got {errs})", file=sys.stderr)
                failures += 1
            else:
                print(f"self-test ok: {line.strip()!r} in {path} is caught")
        finally:
            shutil.rmtree(tmp)
    return failures


def main(argv):
    args = [a for a in argv[1:] if a != "--self-test"]
    if len(args) > 1:
        print(__doc__, file=sys.stderr)
        return 2
    root = args[0] if args else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    errors = check(root)
    for e in errors:
        print(e, file=sys.stderr)
    bad = 1 if errors else 0
    if "--self-test" in argv:
        bad |= 1 if self_test(root) else 0
    if not errors:
        print(f"layers: {sum(1 for _ in sources(root))} files follow the layer rules")
    return bad


if __name__ == "__main__":
    sys.exit(main(sys.argv))
