#!/usr/bin/env python3
"""The HTML report in a real headless Chromium.

1. `--dump-dom file://.../matrix.html` shows the whole grid;
2. a filter in the URL fragment (#sslmode=verify-full) and in the query
   (?scenario=azure-old) changes which rows the page shows;
3. over the DevTools protocol (--remote-debugging-pipe) the script picks a
   value in the scenario <select> like a user, checks the grid and the URL
   fragment follow, then clicks a failing cell and reads the raw error and
   the repro command from the detail panel.

usage: html_chromium_test.py PGTLS_REPORT_BINARY GOLDEN_MATRIX_JSON
Exit 77 (meson: skipped) only when no Chromium is installed.
"""
import json
import os
import re
import select
import shutil
import subprocess
import sys
import tempfile
import time

CHROME_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
    "--disable-dev-shm-usage", "--allow-file-access-from-files",
]


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def find_chromium():
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


def dump_dom(chrome, url, tmp):
    profile = tempfile.mkdtemp(dir=tmp)
    proc = subprocess.run([chrome] + CHROME_FLAGS + ["--user-data-dir=" + profile,
                                                     "--dump-dom", url],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    if proc.returncode != 0:
        fail("chromium --dump-dom exited %d: %s" % (proc.returncode, proc.stderr[-2000:]))
    return proc.stdout.decode("utf-8", "replace")


def rows(dom):
    return re.findall(r'<tr class="case" data-id="([^"]*)" data-scenario="([^"]*)" '
                      r'data-sslmode="([^"]*)" data-store="([^"]*)"', dom)


def shown(dom):
    m = re.search(r'<p id="shown">([^<]*)</p>', dom)
    return m.group(1) if m else None


class DevToolsError(Exception):
    pass


class DevTools:
    """Chrome DevTools protocol over --remote-debugging-pipe (fd 3 in, fd 4 out,
    NUL-terminated JSON messages)."""

    def __init__(self, chrome, url, tmp):
        to_chrome_r, self.to_chrome = os.pipe()
        self.from_chrome, from_chrome_w = os.pipe()
        os.set_inheritable(to_chrome_r, True)
        os.set_inheritable(from_chrome_w, True)

        def child_fds():
            os.dup2(to_chrome_r, 3)
            os.dup2(from_chrome_w, 4)

        profile = tempfile.mkdtemp(dir=tmp)
        self.proc = subprocess.Popen(
            [chrome] + CHROME_FLAGS + ["--user-data-dir=" + profile, "--remote-debugging-pipe",
                                       url],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            preexec_fn=child_fds, close_fds=False)
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self.buf = b""
        self.next_id = 0

    def call(self, method, params=None, session=None, timeout=30):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self.to_chrome, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            while b"\0" in self.buf:
                raw, self.buf = self.buf.split(b"\0", 1)
                reply = json.loads(raw)
                if reply.get("id") == self.next_id:
                    if "error" in reply:
                        raise DevToolsError("%s: %s" % (method, reply["error"]))
                    return reply["result"]
            left = deadline - time.monotonic()
            if left <= 0:
                fail("DevTools call %s timed out" % method)
            ready, _, _ = select.select([self.from_chrome], [], [], left)
            if ready:
                chunk = os.read(self.from_chrome, 65536)
                if not chunk:
                    fail("chromium closed the DevTools pipe during %s" % method)
                self.buf += chunk

    def evaluate(self, session, expression):
        # The page may still be replacing about:blank: retry while its
        # execution context is being swapped.
        for attempt in range(100):
            try:
                r = self.call("Runtime.evaluate", {"expression": expression,
                                                   "returnByValue": True,
                                                   "awaitPromise": True}, session)
                break
            except DevToolsError as e:
                if "context" not in str(e) or attempt == 99:
                    fail(str(e))
                time.sleep(0.1)
        if "exceptionDetails" in r:
            fail("script error: %s" % json.dumps(r["exceptionDetails"])[:500])
        return r["result"].get("value")

    def close(self):
        try:
            self.call("Browser.close", timeout=10)
        except (SystemExit, DevToolsError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self.to_chrome)
        os.close(self.from_chrome)


def png_pixels(data):
    """Decodes an 8-bit RGB/RGBA non-interlaced PNG (what Chromium's screenshots
    are) into (width, height, rows of (r, g, b) tuples), stdlib only."""
    import struct
    import zlib
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        fail("screenshot is not a PNG")
    pos, idat, width = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", body)
            if depth != 8 or colour not in (2, 6) or interlace:
                fail("unexpected PNG format depth=%d colour=%d" % (depth, colour))
            bpp = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = width * bpp
    rows, prev = [], bytearray(stride)
    for y in range(height):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            b, c = prev[x], prev[x - bpp] if x >= bpp else 0
            if f == 1:
                line[x] = (line[x] + a) & 255
            elif f == 2:
                line[x] = (line[x] + b) & 255
            elif f == 3:
                line[x] = (line[x] + (a + b) // 2) & 255
            elif f == 4:
                p_ = a + b - c
                pa, pb, pc = abs(p_ - a), abs(p_ - b), abs(p_ - c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append([tuple(line[i:i + 3]) for i in range(0, stride, bpp)])
        prev = line
    return width, height, rows


def screenshot_colour(dt, session, selector):
    """The colour Chromium really paints over most of the first element
    matching selector (a screenshot clipped to it, decoded here)."""
    import base64
    box = dt.evaluate(session, """(function(){var e=document.querySelector(%s);
        if(!e)return null;e.scrollIntoView({block:'center'});var r=e.getBoundingClientRect();
        return {x:r.left+window.scrollX,y:r.top+window.scrollY,w:r.width,h:r.height};})()"""
                      % json.dumps(selector))
    if not box or box["w"] < 4 or box["h"] < 4:
        fail("%s is not shown: %s" % (selector, box))
    shot = dt.call("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True,
                                             "clip": {"x": box["x"], "y": box["y"],
                                                      "width": box["w"], "height": box["h"],
                                                      "scale": 1}}, session)
    w, h, rows = png_pixels(base64.b64decode(shot["data"]))
    if os.environ.get("PGTLS_DEBUG_SHOTS"):
        print(selector, box, w, h)
    # The colour most of the element is painted in (labels drawn over a cell
    # cover only a part of it).
    counts = {}
    for row in rows[1:-1]:
        for px in row[1:-1]:
            counts[px] = counts.get(px, 0) + 1
    return max(counts, key=counts.get)


def near(colour, hexcolour, slack=40):
    want = tuple(int(hexcolour[i:i + 2], 16) for i in (1, 3, 5))
    return all(abs(a - b) <= slack for a, b in zip(colour, want))


def main():
    if len(sys.argv) != 3:
        print(__doc__)
        return 2
    report, golden = sys.argv[1], sys.argv[2]
    chrome = find_chromium()
    if not chrome:
        print("SKIP: no chromium installed (Debian package chromium)")
        return 77
    with open(golden) as f:
        matrix = json.load(f)
    total = len(matrix["cases"])
    verify_full = sorted(c["id"] for c in matrix["cases"] if c["sslmode"] == "verify-full")
    azure_old = sorted(c["id"] for c in matrix["cases"] if c["scenario"] == "azure-old")
    if not (0 < len(verify_full) < total and 0 < len(azure_old) < total):
        fail("the golden matrix must have cases inside and outside each filter")

    tmp = tempfile.mkdtemp(prefix="pgtls-html-")
    try:
        out = os.path.join(tmp, "out")
        subprocess.run([report, "render", golden, "--out", out], check=True,
                       stdout=subprocess.DEVNULL)
        page = "file://" + os.path.join(out, "matrix.html")

        dom = dump_dom(chrome, page, tmp)
        if len(rows(dom)) != total:
            fail("unfiltered grid shows %d rows, want %d" % (len(rows(dom)), total))
        if shown(dom) != "%d of %d cases shown" % (total, total):
            fail("unfiltered counter says %r" % shown(dom))
        if dom.count('class="cell v-') != sum(len(c["results"]) for c in matrix["cases"]):
            fail("grid cells do not match the results")
        print("ok: the grid shows all %d cases" % total)

        dom = dump_dom(chrome, page + "#sslmode=verify-full", tmp)
        got = sorted(r[0] for r in rows(dom))
        if got != verify_full:
            fail("#sslmode=verify-full shows %s, want %s" % (got, verify_full))
        print("ok: #sslmode=verify-full shows only the %d verify-full cases" % len(got))

        dom = dump_dom(chrome, page + "?scenario=azure-old", tmp)
        got = sorted(r[0] for r in rows(dom))
        if got != azure_old:
            fail("?scenario=azure-old shows %s, want %s" % (got, azure_old))
        print("ok: ?scenario=azure-old shows only the %d azure-old cases" % len(got))

        dt = DevTools(chrome, "about:blank", tmp)
        try:
            targets = dt.call("Target.getTargets")["targetInfos"]
            pages = [t for t in targets if t["type"] == "page"]
            if not pages:
                fail("no page target in %s" % targets)
            session = dt.call("Target.attachToTarget",
                              {"targetId": pages[0]["targetId"], "flatten": True})["sessionId"]
            dt.call("Page.navigate", {"url": page}, session)
            n = dt.evaluate(session, """new Promise(function(resolve){var t0=Date.now();
                (function poll(){var n=document.querySelectorAll('tr.case').length;
                 if((n&&location.href.indexOf('matrix.html')>=0)||Date.now()-t0>15000)resolve(n);else setTimeout(poll,50);})();})""")
            if n != total:
                fail("page over DevTools shows %s rows, want %d" % (n, total))
            state = dt.evaluate(session, """(function(){var s=document.getElementById('f-scenario');
                s.value='azure-old';s.dispatchEvent(new Event('change'));
                return {rows:Array.prototype.map.call(document.querySelectorAll('tr.case'),
                        function(r){return r.getAttribute('data-id');}).sort(),
                        hash:location.hash,
                        shown:document.getElementById('shown').textContent};})()""")
            if state["rows"] != azure_old or state["hash"] != "#scenario=azure-old":
                fail("choosing scenario azure-old gave %s" % state)
            print("ok: choosing a scenario in the filter shows %d rows and sets %s"
                  % (len(state["rows"]), state["hash"]))
            state = dt.evaluate(session, """(function(){document.getElementById('f-reset').click();
                var td=document.querySelector('#grid td.v-fails');td.click();
                var d=document.getElementById('detail');
                return {hidden:d.hidden,title:document.getElementById('d-title').textContent,
                        error:document.getElementById('d-error').textContent,
                        repro:document.getElementById('d-repro').textContent,
                        rows:document.querySelectorAll('tr.case').length};})()""")
            if state["hidden"] or state["rows"] != total:
                fail("clicking a failing cell: %s" % state)
            case_id, client = state["title"].split(" — ", 1)
            want = next(c for c in matrix["cases"] if c["id"] == case_id)["results"][client]
            if state["error"] != (want["error"] or "(no error)") or state["repro"] != want["repro"]:
                fail("detail panel shows %s, want error %r repro %r"
                     % (state, want["error"], want["repro"]))
            print("ok: clicking a failing cell shows its raw error and repro command")

            # The pictures: the heat map has one cell per client build and
            # scenario, and what Chromium paints is the verdict's colour.
            dt.evaluate(session, "document.getElementById('detail').hidden=true")  # it covers the right
            scenarios = sorted({c["scenario"] for c in matrix["cases"]})
            ncells = dt.evaluate(session, "document.querySelectorAll('#heatmap rect.cell').length")
            if ncells != len(matrix["clients"]) * len(scenarios):
                fail("heat map has %s cells, want %d" % (ncells, len(matrix["clients"]) * len(scenarios)))
            for verdict, colour in (("fails", "#d9534f"), ("conforms", "#5cb85c"),
                                    ("deviation (known)", "#f0ad4e")):
                got = screenshot_colour(dt, session, '#heatmap rect.cell[data-verdict="%s"]' % verdict)
                if not near(got, colour):
                    fail("a %s cell of the heat map is painted %s, want about %s" % (verdict, got, colour))
            got = screenshot_colour(dt, session, '#readiness rect.cell[data-verdict="ready"]')
            if not near(got, "#5cb85c"):
                fail("a ready cell of the readiness picture is painted %s" % (got,))
            glance = dt.evaluate(session, """Array.prototype.map.call(
                document.querySelectorAll('#glance-table tr'),function(r){return r.textContent;})""")
            if len(glance) != len(matrix["clients"]) + 1 or "pinned intermediate" not in glance[0]:
                fail("the glance table shows %s" % glance)
            print("ok: the heat map (%d cells) and the readiness picture are painted in their "
                  "verdicts' colours; the glance table has a row per client build" % ncells)
        finally:
            dt.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
