#!/usr/bin/env python3
"""How fast matrix.html loads and filters a large matrix in headless Chromium.

Makes a matrix of N cases (default 10,500) by repeating the cases of a real
matrix.json under new ids (scenario and store names kept, so the filters have
real choices), renders it with `pgtls report render`, then over the DevTools
protocol measures: the time until the grid shows every row, a filter change
(scenario), and clearing it. Prints one table; ratios, not budgets.

usage: bench/html.py [--cases N] [--matrix out/latest/matrix.json] [--pgtls build/cli/pgtls]"""
import argparse
import copy
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location(
    "chromium_test", os.path.join(HERE, "..", "results", "tests", "html_chromium_test.py"))
ct = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ct)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", type=int, default=10500)
    ap.add_argument("--matrix", default="out/latest/matrix.json")
    ap.add_argument("--pgtls", default="build/cli/pgtls")
    a = ap.parse_args()
    chrome = ct.find_chromium()
    if not chrome:
        print("bench/html.py: no chromium (Debian package chromium)")
        return 2
    with open(a.matrix) as f:
        src = json.load(f)
    base = src["cases"]
    cases = []
    for i in range(a.cases):
        c = copy.deepcopy(base[i % len(base)])
        c["id"] = "%s#%d" % (c["id"], i // len(base))
        cases.append(c)
    src["cases"] = cases
    tmp = tempfile.mkdtemp(prefix="pgtls-html-bench-")
    try:
        mpath = os.path.join(tmp, "matrix.json")
        with open(mpath, "w") as f:
            json.dump(src, f)
        out = os.path.join(tmp, "out")
        t0 = time.monotonic()
        subprocess.run([a.pgtls, "report", "render", mpath, "--out", out], check=True,
                       stdout=subprocess.DEVNULL)
        render_s = time.monotonic() - t0
        page = "file://" + os.path.join(out, "matrix.html")
        size = os.path.getsize(os.path.join(out, "matrix.html"))
        dt = ct.DevTools(chrome, "about:blank", tmp)
        try:
            targets = dt.call("Target.getTargets")["targetInfos"]
            session = dt.call("Target.attachToTarget",
                              {"targetId": [t for t in targets if t["type"] == "page"][0]["targetId"],
                               "flatten": True})["sessionId"]
            t0 = time.monotonic()
            dt.call("Page.navigate", {"url": page}, session)
            n = dt.evaluate(session, """new Promise(function(resolve){var t0=Date.now();
                (function poll(){var n=document.querySelectorAll('tr.case').length;
                 if((n&&location.href.indexOf('matrix.html')>=0)||Date.now()-t0>300000)resolve(n);else setTimeout(poll,20);})();})""")
            load_s = time.monotonic() - t0
            scen = cases[0]["scenario"]
            r = dt.evaluate(session, """(function(){var s=document.getElementById('f-scenario');
                var t0=performance.now();s.value=%s;s.dispatchEvent(new Event('change'));
                var n=document.querySelectorAll('tr.case').length;var t1=performance.now();
                document.getElementById('f-reset').click();
                var m=document.querySelectorAll('tr.case').length;var t2=performance.now();
                return {filtered:n,filter_ms:t1-t0,all:m,reset_ms:t2-t1};})()""" % json.dumps(scen))
        finally:
            dt.close()
        clients = len(src["clients"])
        print("| cases | client builds | cells | matrix.html | render | load to full grid | "
              "filter (scenario) | clear filter |")
        print("|---:|---:|---:|---:|---:|---:|---:|---:|")
        print("| %d | %d | %d | %.1f MB | %.2f s | %.2f s (%d rows) | %.0f ms (%d rows) | %.0f ms (%d rows) |"
              % (len(cases), clients, len(cases) * clients, size / 1e6, render_s, load_s, n,
                 r["filter_ms"], r["filtered"], r["reset_ms"], r["all"]))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
