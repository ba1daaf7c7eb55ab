#!/usr/bin/env python3
"""Compares two matrix.json files case by case, client build by client build.

    tests/tools/matrix-identity.py BASELINE.json CURRENT.json [--allow FILE] [--subset]

For every (case id, client) pair it compares the observed class, the expected
class, the verdict and the deviation name. A client is matched by its build
key, else by its client name. Prints one line per difference and a summary.
--allow FILE lists expected differences, one per line:
    <case id> <client name> <field> <baseline value> -> <current value>  # cause
(lines starting with # are comments). --subset compares only the baseline
rows whose case and client the current matrix has (a rerun of some clients or
scenarios). Exit 0 when every difference is allowed
and every allowed one happened, 1 otherwise, 2 on bad input.
"""
import json
import sys

FIELDS = ("observed", "expected", "verdict", "deviation")


def load(path):
    try:
        with open(path) as f:
            doc = json.load(f)
    except (OSError, ValueError) as e:
        sys.exit(f"matrix-identity: cannot read {path}: {e}")
    if doc.get("schema") != "pgtls-matrix/1":
        sys.exit(f"matrix-identity: {path} is not a pgtls-matrix/1 document")
    names = {c["key"]: c["client"] for c in doc.get("clients", [])}
    rows = {}
    for case in doc.get("cases", []):
        for key, res in case.get("results", {}).items():
            dev = res.get("deviation")
            rows[(case["id"], key)] = {
                "observed": res.get("observed"),
                "expected": res.get("expected"),
                "verdict": res.get("verdict"),
                "deviation": dev.get("name") if isinstance(dev, dict) else None,
            }
    return names, rows


def load_allow(path):
    allowed = set()
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            parts = line.split()
            if len(parts) != 6 or parts[4] != "->":
                sys.exit(f"matrix-identity: {path}:{n}: want '<case> <client> <field> <old> -> <new>'")
            allowed.add((parts[0], parts[1], parts[2], parts[3], parts[5]))
    return allowed


def main(argv):
    args, allow_path, subset = [], None, False
    it = iter(argv[1:])
    for a in it:
        if a == "--allow":
            allow_path = next(it, None)
        elif a == "--subset":
            subset = True
        else:
            args.append(a)
    if len(args) != 2 or (allow_path is None and "--allow" in argv):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    base_names, base = load(args[0])
    cur_names, cur = load(args[1])
    allowed = load_allow(allow_path) if allow_path else set()
    # Match current client keys to baseline keys (same key, else same client name).
    by_name = {}
    for key, name in cur_names.items():
        by_name.setdefault(name, key)
    key_map = {}
    for key, name in base_names.items():
        key_map[key] = key if key in cur_names else by_name.get(name)
    if subset:
        cur_cases = {c for (c, _) in cur}
        base = {(c, k): r for (c, k), r in base.items() if key_map.get(k) and c in cur_cases}
        allowed = {a for a in allowed if a[0] in cur_cases and a[1] in by_name}
    seen, unexpected = set(), 0
    for (case, key), row in sorted(base.items()):
        name = base_names.get(key, key)
        ckey = key_map.get(key)
        other = cur.get((case, ckey)) if ckey else None
        if other is None:
            print(f"MISSING {case} {name}: no row in the current matrix")
            unexpected += 1
            continue
        for field in FIELDS:
            a, b = str(row[field]), str(other[field])
            if a == b:
                continue
            diff = (case, name, field, a, b)
            ok = diff in allowed
            seen.add(diff)
            unexpected += not ok
            print(f"{'allowed' if ok else 'DIFF'} {case} {name} {field}: {a} -> {b}")
    base_pairs = {(c, key_map.get(k)) for (c, k) in base}
    for (case, key) in sorted(cur):
        if (case, key) not in base_pairs:
            print(f"ADDED {case} {cur_names.get(key, key)}: no row in the baseline")
            unexpected += 1
    missing = allowed - seen
    for d in sorted(missing):
        print(f"NOT SEEN (allowed but did not happen) {d[0]} {d[1]} {d[2]}: {d[3]} -> {d[4]}")
    print(f"matrix-identity: {len(base)} rows compared, {len(seen)} differences "
          f"({len(seen) - (len(seen & allowed))} not allowed), {len(missing)} allowed ones not seen")
    return 1 if unexpected or missing else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
