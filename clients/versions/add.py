#!/usr/bin/env python3
"""`pgtls clients add NAME@VERSION`: one more client build, a driver pinned at a
version from its registry (docs/versions.md).

NAME is the registry's name or the adapter's: psycopg2-binary / psycopg2 (PyPI),
pg / node-postgres (npm), org.postgresql:postgresql / pgjdbc (Maven Central),
github.com/jackc/pgx/v5 / pgx (Go module proxy). The build is the folder
clients/<adapter>@<version>/: an adapter.json whose name is <adapter>@<version>,
whose argv runs the base adapter's code (@SRC@/clients/...) with this folder's
installed driver, the ecosystem's lockfile with hashes, and an `install` script
that ci/setup.sh runs like every other clients/*/install.

Every registry request goes through the ecosystem's own client (pip, npm, go,
mvn), so its configuration (index URL, proxy, mirror) applies. Exit status: 0
added (or already there and installed), 2 bad input or the registry refused,
with one line naming the thing and what to do. A failed add leaves nothing
behind: the folder is built under a hidden name and renamed at the end.
"""
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

# name -> (adapter, ecosystem, registry package)
DRIVERS = {
    "psycopg2": ("psycopg2", "pypi", "psycopg2-binary"),
    "psycopg2-binary": ("psycopg2", "pypi", "psycopg2-binary"),
    "node-postgres": ("node-postgres", "npm", "pg"),
    "pg": ("node-postgres", "npm", "pg"),
    "pgjdbc": ("pgjdbc", "maven", "org.postgresql:postgresql"),
    "org.postgresql:postgresql": ("pgjdbc", "maven", "org.postgresql:postgresql"),
    "pgx": ("pgx", "go", "github.com/jackc/pgx/v5"),
    "github.com/jackc/pgx/v5": ("pgx", "go", "github.com/jackc/pgx/v5"),
}
REGISTRY = {"pypi": "PyPI", "npm": "npm", "maven": "Maven Central", "go": "the Go module proxy"}
VERSION_RE = re.compile(r"^[0-9][0-9A-Za-z.+_-]{0,63}$")
TIMEOUT = 600


class AddError(Exception):
    pass


def die(msg):
    print(f"pgtls clients add: {msg}", file=sys.stderr)
    sys.exit(2)


def split_spec(spec):
    """NAME@VERSION -> (adapter, ecosystem, package, version). The last '@' splits,
    so a Go module path or a Maven coordinate may be given whole."""
    if "@" not in spec:
        die(f"'{spec}' has no version: write NAME@VERSION (for example pg@8.7.3)")
    name, version = spec.rsplit("@", 1)
    if name not in DRIVERS:
        known = ", ".join(sorted(DRIVERS))
        die(f"unknown driver '{name}' (known: {known})")
    adapter, eco, package = DRIVERS[name]
    if eco == "go" and version.startswith("v"):
        version = version[1:]
    if not VERSION_RE.match(version):
        die(f"'{version}' is not a version (digits first, then letters, digits, '.', '+', '_', '-')")
    return adapter, eco, package, version


def run(argv, cwd=None, env=None, what=None):
    """Runs argv (no shell); returns stdout. AddError with the tool's last words."""
    e = dict(os.environ)
    e.update(env or {})
    try:
        p = subprocess.run(argv, cwd=cwd, env=e, stdin=subprocess.DEVNULL, capture_output=True,
                           text=True, timeout=TIMEOUT)
    except FileNotFoundError:
        raise AddError(f"{argv[0]} not found in PATH (install it to add {what})")
    except subprocess.TimeoutExpired:
        raise AddError(f"{' '.join(argv[:3])} ... took more than {TIMEOUT} s")
    if p.returncode != 0:
        raise AddError(p.stdout + "\n" + p.stderr)
    return p.stdout


def last_words(text, patterns):
    """The first line of text matching one of patterns, else its last non-empty line."""
    lines = [l.strip() for l in text.splitlines() if l.strip()]
    for pat in patterns:
        for l in lines:
            if re.search(pat, l, re.I):
                return l[:300]
    return (lines[-1] if lines else "no output")[:300]


UNREACHABLE = [r"ECONNREFUSED", r"ENOTFOUND", r"ETIMEDOUT", r"connection refused",
               r"Failed to establish a new connection", r"Could not transfer",
               r"dial tcp", r"no such host", r"E40[13]", r"403 Forbidden", r"401 Unauthorized",
               r"ProxyError", r"certificate verify failed"]


def refused(text):
    return any(re.search(p, text, re.I) for p in UNREACHABLE)


def rel(from_dir, to_path):
    return os.path.relpath(to_path, from_dir)


def write(path, text, mode=0o644):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)


def install_script(folder, comment, target, *args):
    """An install script that runs the base's installer with this folder."""
    target_rel = rel(folder, target)
    extra = "".join(f' {a}' for a in args)
    write(os.path.join(folder, "install"),
          "#!/usr/bin/env bash\n"
          f"# {comment}\n"
          "# Made by `pgtls clients add` (docs/versions.md); idempotent like every clients/*/install.\n"
          f'exec "$(dirname "$0")/{target_rel}" "$(dirname "$0")"{extra}\n', 0o755)


# ------------------------------------------------------------------ PyPI

def lock_pypi(folder, package, version, tmp):
    py = os.environ.get("PGTLS_PYTHON", "python3")
    try:
        run([py, "-m", "pip", "download", "--quiet", "--disable-pip-version-check", "--no-deps",
             "--only-binary=:all:", "--dest", tmp, f"{package}=={version}"], what=package)
    except AddError as e:
        text = str(e)
        if refused(text):
            raise AddError(f"PyPI refused or could not be reached for {package}=={version}: "
                           f"{last_words(text, UNREACHABLE)}")
        if re.search(r"No matching distribution|Could not find a version", text):
            raise AddError(f"{package} {version} is not on PyPI as a wheel for this Python "
                           f"(see https://pypi.org/project/{package}/#history)")
        raise AddError(f"pip download {package}=={version} failed: {last_words(text, [r'ERROR'])}")
    wheels = sorted(f for f in os.listdir(tmp) if f.endswith(".whl"))
    if not wheels:
        raise AddError(f"pip downloaded no wheel of {package} {version}")
    hashes = []
    for w in wheels:
        with open(os.path.join(tmp, w), "rb") as f:
            hashes.append(hashlib.sha256(f.read()).hexdigest())
    write(os.path.join(folder, "requirements.in"), f"{package}=={version}\n")
    write(os.path.join(folder, "requirements.lock"),
          f"# {package} {version}, pinned by `pgtls clients add` from PyPI: the wheel pip picked\n"
          f"# for this platform ({', '.join(wheels)}). pip install --require-hashes.\n"
          f"{package}=={version} \\\n" +
          " \\\n".join(f"    --hash=sha256:{h}" for h in hashes) + "\n")
    write(os.path.join(folder, ".gitignore"), ".venv/\n__pycache__/\n")
    return "requirements.lock"


# ------------------------------------------------------------------ npm

def lower_bound(rng):
    m = re.match(r"^\s*[~^]?\s*(\d+\.\d+\.\d+)\s*$", rng or "")
    return m.group(1) if m else None


def lock_npm(folder, package, version, tmp):
    try:
        out = run(["npm", "view", "--json", f"{package}@{version}", "version", "dependencies"],
                  what=package)
    except AddError as e:
        text = str(e)
        if refused(text):
            code = re.search(r'"code":\s*"(\w+)"|npm (?:ERR!|error) code (\w+)', text)
            why = f"npm error code {code.group(1) or code.group(2)}" if code else last_words(text, UNREACHABLE)
            raise AddError(f"the npm registry refused or could not be reached for {package}@{version}: {why}")
        if re.search(r"E404|No match found for version", text):
            raise AddError(f"{package} {version} is not on npm (see https://www.npmjs.com/package/{package}?activeTab=versions)")
        raise AddError(f"npm view {package}@{version} failed: {last_words(text, [r'npm (ERR|error)'])}")
    if not out.strip():
        raise AddError(f"{package} {version} is not on npm (see https://www.npmjs.com/package/{package}?activeTab=versions)")
    info = json.loads(out)
    if isinstance(info, list):
        info = info[-1]
    if info.get("version") != version:
        raise AddError(f"{package} {version} is not on npm (npm answered {info.get('version')})")
    # pg's TLS decisions from a connection string are pg-connection-string's: pin
    # the version pg was published with (the lower bound of its caret range), not
    # today's newest match, so the build behaves as that release did.
    pcs = lower_bound((info.get("dependencies") or {}).get("pg-connection-string"))
    deps = {"pg": version}
    if pcs:
        deps["pg-connection-string"] = pcs
    pkg = {"name": f"pgtls-node-postgres-{version}", "version": "1.0.0", "private": True,
           "description": f"pgtls version build: pg {version} with the pg-connection-string it was "
                          "published with (docs/versions.md)",
           "license": "MIT", "dependencies": deps}
    write(os.path.join(folder, "package.json"), json.dumps(pkg, indent=2) + "\n")
    try:
        run(["npm", "install", "--package-lock-only", "--ignore-scripts", "--no-audit", "--no-fund",
             "--loglevel=error"], cwd=folder, what=package)
    except AddError as e:
        text = str(e)
        if refused(text):
            raise AddError(f"the npm registry refused or could not be reached: {last_words(text, UNREACHABLE)}")
        raise AddError(f"npm could not lock {package}@{version}: {last_words(text, [r'npm (ERR|error)'])}")
    write(os.path.join(folder, ".gitignore"), "node_modules/\n")
    return "package-lock.json"


# ------------------------------------------------------------------ Go

def lock_go(folder, package, version, tmp, src):
    env = {"GOTOOLCHAIN": os.environ.get("GOTOOLCHAIN", "local"), "GOFLAGS": "-mod=mod"}
    # Does the proxy have it? (the .info request; GOPROXY and GOPRIVATE apply)
    try:
        run(["go", "list", "-m", "-json", f"{package}@v{version}"], cwd=tmp, env=env, what=package)
    except AddError as e:
        text = str(e)
        said = last_words(text, [r"server response: .*", r"unknown revision", r"invalid version"])
        if re.search(r"dial tcp|connection refused|no such host|i/o timeout|TLS handshake", text):
            raise AddError(f"the Go module proxy refused or could not be reached for {package}@v{version}: "
                           f"{last_words(text, UNREACHABLE)}")
        if re.search(r"unknown revision|invalid version|not available|404 Not Found|410 Gone|no matching versions", text):
            raise AddError(f"{package} v{version} is not on the Go module proxy ({said}; "
                           f"see https://pkg.go.dev/{package}?tab=versions)")
        raise AddError(f"go list {package}@v{version} failed: {said}")
    base = os.path.join(src, "clients", "pgx")
    for f in os.listdir(base):
        if f.endswith(".go"):
            shutil.copy(os.path.join(base, f), tmp)
    with open(os.path.join(base, "go.mod")) as f:
        gomod = f.read()
    # The adapter's direct requirements (pgx, and the Azure SDK of its token
    # mode), pgx at the wanted version; go mod tidy fills in the rest.
    head = gomod.split("\nrequire", 1)[0].rstrip("\n")
    direct = []
    for line in gomod.splitlines():
        m = re.match(r"^(?:require\s+)?\s*(\S+)\s+(v\S+)\s*$", line)
        if m and "// indirect" not in line and m.group(1) != "go":
            mod, ver = m.group(1), m.group(2)
            direct.append((mod, f"v{version}" if mod == package else ver))
    if not any(mod == package for mod, _ in direct):
        direct.insert(0, (package, f"v{version}"))
    gomod = head + "\n\nrequire (\n" + "".join(f"\t{mod} {ver}\n" for mod, ver in direct) + ")\n"
    write(os.path.join(tmp, "go.mod"), gomod)
    try:
        run(["go", "mod", "tidy"], cwd=tmp, env=env, what=package)
    except AddError as e:
        text = str(e)
        if re.search(r"unknown revision|invalid version|no matching versions|not found: ", text) \
                and not re.search(r"dial tcp|connection refused|no such host", text):
            raise AddError(f"{package} v{version} is not on the Go module proxy "
                           f"(see https://pkg.go.dev/{package}?tab=versions)")
        if refused(text) or re.search(r"GOPROXY|proxy", text):
            raise AddError(f"the Go module proxy refused or could not be reached for {package}@v{version}: "
                           f"{last_words(text, UNREACHABLE)}")
        raise AddError(f"go mod tidy with {package}@v{version} failed: {last_words(text, [r'error', r'go: '])}")
    for f in ("go.mod", "go.sum"):
        shutil.copy(os.path.join(tmp, f), folder)
    write(os.path.join(folder, ".gitignore"), "pgx-adapter\n")
    return "go.sum"


# ------------------------------------------------------------------ Maven

def lock_maven(folder, package, version, tmp, src):
    base = os.path.join(src, "clients", "pgjdbc")
    with open(os.path.join(base, "pom.xml")) as f:
        pom = f.read()
    pom = re.sub(r"<pgjdbc.version>[^<]*</pgjdbc.version>", f"<pgjdbc.version>{version}</pgjdbc.version>", pom)
    pom = pom.replace("<artifactId>pgtls-pgjdbc-adapter</artifactId>",
                      f"<artifactId>pgtls-pgjdbc-adapter-{version}</artifactId>")
    pom = pom.replace("<build>\n",
                      "<build>\n    <!-- the base adapter's code (clients/pgjdbc), this version's driver -->\n"
                      f"    <sourceDirectory>${{project.basedir}}/{rel(folder, os.path.join(base, 'src', 'main', 'java'))}</sourceDirectory>\n", 1)
    pom = pom.replace("<!-- pgtls adapter for pgjdbc.",
                      f"<!-- pgtls version build: pgjdbc {version} (pgtls clients add, docs/versions.md).\n     pgtls adapter for pgjdbc.", 1)
    write(os.path.join(folder, "pom.xml"), pom)
    repo = os.environ.get("PGTLS_M2_REPO", os.path.expanduser("~/.m2/repository"))
    try:
        out = run(["mvn", "-B", "-Dstyle.color=never", f"-Dmaven.repo.local={repo}", "package"],
                  cwd=folder, what=package)
    except AddError as e:
        text = str(e)
        if re.search(rf"Could not find artifact org.postgresql:postgresql:jar:{re.escape(version)}|"
                     rf"org.postgresql:postgresql:jar:{re.escape(version)} was not found", text):
            raise AddError(f"{package} {version} is not on Maven Central "
                           "(see https://central.sonatype.com/artifact/org.postgresql/postgresql/versions)")
        if refused(text):
            raise AddError(f"Maven Central refused or could not be reached for {package}:{version}: "
                           f"{last_words(text, UNREACHABLE)}")
        why = last_words(text, [r"\[ERROR\].*(error:|cannot find symbol)", r"\[ERROR\]"])
        raise AddError(f"mvn package with pgjdbc {version} failed (the adapter may not compile "
                       f"against it): {why}")
    # The jars the shaded adapter holds, as Maven resolved them: our lockfile.
    jars = []
    for m in re.finditer(r"Including ([^:\s]+):([^:\s]+):jar:(\S+) in the shaded jar", out):
        g, a, v = m.groups()
        relpath = f"{g.replace('.', '/')}/{a}/{v}/{a}-{v}.jar"
        with open(os.path.join(repo, relpath), "rb") as f:
            jars.append((hashlib.sha256(f.read()).hexdigest(), relpath))
    if not any(r.startswith(f"org/postgresql/postgresql/{version}/") for _, r in jars):
        raise AddError(f"the build did not include org.postgresql:postgresql:{version}")
    write(os.path.join(folder, "deps.sha256"), "".join(f"{h} {r}\n" for h, r in jars))
    # The jar just built is this lock's: install (which checks deps.sha256 on a
    # rebuild) need not build it again.
    os.utime(os.path.join(folder, "target", "pgtls-pgjdbc.jar"))
    write(os.path.join(folder, ".gitignore"), "target/\n")
    return "deps.sha256"


# ------------------------------------------------------------------ the build

def manifest(adapter, name, eco, package, version, base_manifest):
    desc = base_manifest.get("description", "")
    argv = {
        "psycopg2": ["@DIR@/.venv/bin/python", "@SRC@/clients/psycopg2/adapter.py", "--client-name", "@NAME@"],
        "node-postgres": ["node", "@SRC@/clients/node/pg.js", "--mode", "connstring",
                          "--modules", "@DIR@/node_modules", "--client-name", "@NAME@"],
        "pgjdbc": ["java", "-jar", "@DIR@/target/pgtls-pgjdbc.jar", "--client-name", "@NAME@"],
        "pgx": ["@DIR@/pgx-adapter", "--client-name", "@NAME@"],
    }[adapter]
    program = {"psycopg2": None, "node-postgres": "@DIR@/node_modules/pg/package.json",
               "pgjdbc": "@DIR@/target/pgtls-pgjdbc.jar", "pgx": None}[adapter]
    m = {"protocol": 1, "name": name, "argv": argv, "requires": base_manifest.get("requires", []),
         "tls_only": False,
         "description": f"{desc} -- pinned to {package} {version} from {REGISTRY[eco]} (a version build)",
         "install": f"@DIR@/install"}
    if program:
        m["program"] = program
    for k in ("startup_timeout_ms", "language", "smoke_expect"):
        if k in base_manifest:
            m[k] = base_manifest[k]
    m["base"] = adapter
    m["package"] = {"registry": {"pypi": "pypi", "npm": "npm", "maven": "maven-central", "go": "go-proxy"}[eco],
                    "name": package, "version": version}
    return m


def describe(folder, name, src, build):
    with open(os.path.join(folder, "adapter.json")) as f:
        m = json.load(f)
    sub = {"@DIR@": folder, "@SRC@": src, "@BUILD@": build, "@NAME@": name}
    argv = [re.sub(r"@(DIR|SRC|BUILD|NAME)@", lambda x: sub[x.group(0)], a) for a in m["argv"]]
    try:
        p = subprocess.run(argv + ["--describe"], capture_output=True, text=True, timeout=120,
                           stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise AddError(f"{name} --describe: {e}")
    for line in p.stdout.splitlines():
        if line.strip():
            return json.loads(line)
    raise AddError(f"{name} --describe printed no hello: {p.stderr.strip()[:300]}")


def main(argv):
    import argparse
    ap = argparse.ArgumentParser(prog="pgtls clients add",
                                 description="Adds a client build pinned at a driver version from its registry.")
    ap.add_argument("spec", metavar="NAME@VERSION")
    ap.add_argument("--clients-dir", required=True)
    ap.add_argument("--src", required=True, help="the pgtls source (or share) root")
    ap.add_argument("--build", default="", help="the build root (@BUILD@)")
    ap.add_argument("--no-install", action="store_true",
                    help="write the folder and its lockfile, do not run its install")
    a = ap.parse_args(argv)
    adapter, eco, package, version = split_spec(a.spec)
    name = f"{adapter}@{version}"
    clients_dir = os.path.abspath(a.clients_dir)
    src = os.path.abspath(a.src)
    final = os.path.join(clients_dir, name)
    base_json = os.path.join(src, "clients", adapter, "adapter.json")
    if not os.path.isfile(base_json):
        die(f"the base adapter {adapter} is missing ({base_json}); a version build reuses its code")
    with open(base_json) as f:
        base_manifest = json.load(f)

    if not os.path.isdir(final):
        tmp_folder = os.path.join(clients_dir, f".adding-{name}")
        shutil.rmtree(tmp_folder, ignore_errors=True)
        os.makedirs(tmp_folder)
        try:
            with tempfile.TemporaryDirectory(prefix="pgtls-add-") as tmp:
                if eco == "pypi":
                    lock = lock_pypi(tmp_folder, package, version, tmp)
                    install_script(tmp_folder, f"Installs {package} {version} into .venv from requirements.lock.",
                                   os.path.join(src, "clients", "pyshared", "install-venv.sh"))
                elif eco == "npm":
                    lock = lock_npm(tmp_folder, package, version, tmp)
                    install_script(tmp_folder, f"Installs pg {version} into node_modules from package-lock.json.",
                                   os.path.join(src, "clients", "node", "install-version.sh"))
                elif eco == "go":
                    lock = lock_go(tmp_folder, package, version, tmp, src)
                    install_script(tmp_folder, f"Builds the pgx adapter with pgx v{version} (go.mod, go.sum).",
                                   os.path.join(src, "clients", "pgx", "install"))
                else:
                    lock = lock_maven(tmp_folder, package, version, tmp, src)
                    install_script(tmp_folder, f"Builds the pgjdbc adapter with pgjdbc {version} (pom.xml, deps.sha256).",
                                   os.path.join(src, "clients", "pgjdbc", "install"))
            write(os.path.join(tmp_folder, "adapter.json"),
                  json.dumps(manifest(adapter, name, eco, package, version, base_manifest), indent=1) + "\n")
            os.rename(tmp_folder, final)
        except AddError as e:
            shutil.rmtree(tmp_folder, ignore_errors=True)
            die(str(e).strip().splitlines()[0] if str(e).strip() else "failed")
        except BaseException:
            shutil.rmtree(tmp_folder, ignore_errors=True)
            raise
        print(f"pgtls clients add: wrote {final} ({lock} pinned)")
    else:
        print(f"pgtls clients add: {final} exists; checking its install")
    if a.no_install:
        return 0
    p = subprocess.run([os.path.join(final, "install")], stdin=subprocess.DEVNULL,
                       capture_output=True, text=True)
    if p.returncode != 0:
        msg = last_words(p.stderr + "\n" + p.stdout, [r"ERROR", r"error", r"does not match"])
        die(f"{name}/install failed: {msg} (the folder is kept; fix and run {final}/install)")
    try:
        hello = describe(final, name, src, a.build)
    except AddError as e:
        die(f"{e} (run {final}/install)")
    loaded = str(hello.get("version") or "")
    if loaded.lstrip("v") != version:
        die(f"{name} loads {package} {loaded or '(none)'}, not {version}: its install did not take "
            f"(run {final}/install)")
    print(f"pgtls clients add: {name} ready: {hello.get('client')} {loaded} | "
          f"{hello.get('tls_library')} (run it: pgtls run --clients {name})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
