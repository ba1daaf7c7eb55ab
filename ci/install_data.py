#!/usr/bin/env python3
"""`meson install` step: copies what the installed pgtls reads at run time into
<prefix>/share/pgtls, in the source tree's layout (common/paths.h): the
catalogue, the suites with their deviations, and the client adapters' files
(manifests, adapter programs, lockfiles and install scripts; not the installed
drivers, the tests or build output). An adapter whose driver is not installed
shows as unusable in `pgtls clients` with the install script to run, which works
in the installed folder as in the source tree."""
import os
import shutil
import sys

SKIP_DIRS = {".venv", "node_modules", "target", "tests", "__pycache__", ".git"}
SKIP_FILES = {"meson.build", "pgx-adapter", "lib-pq-adapter", "entra-go"}


def ignore(folder, names):
    return [n for n in names if n in SKIP_DIRS or n in SKIP_FILES or n.endswith(".c") or n.endswith(".h")]


def main():
    src = os.environ.get("MESON_SOURCE_ROOT") or sys.argv[1]
    prefix = os.environ.get("MESON_INSTALL_DESTDIR_PREFIX") or sys.argv[2]
    datadir = sys.argv[-1] if len(sys.argv) > 1 else "share"
    dest = os.path.join(prefix, datadir, "pgtls")
    os.makedirs(os.path.join(dest, "certs-gen"), exist_ok=True)
    shutil.copy2(os.path.join(src, "certs-gen", "catalogue.ini"), os.path.join(dest, "certs-gen"))
    for sub in ("suites", "clients"):
        target = os.path.join(dest, sub)
        if os.path.isdir(target):
            shutil.rmtree(target)
        shutil.copytree(os.path.join(src, sub), target, ignore=ignore, symlinks=False)
    print("installed pgtls data into %s" % dest)


if __name__ == "__main__":
    main()
