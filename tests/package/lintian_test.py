#!/usr/bin/python3
"""lintian on the vnet .deb: no E: or W: tag that is not overridden, and every override
justified and still needed.

Builds the package with `cpack -G DEB` from the build directory, runs lintian with the
overrides the package ships (usr/share/lintian/overrides/vnet, from
deploy/debian/lintian-overrides), and fails on
  * any E: or W: tag lintian reports (an override turns a tag into O:);
  * an override that matched nothing (unused-override / mismatched-override): the tag it
    excused is gone, so must the override be;
  * an override line without a comment above it saying why;
  * a changelog (usr/share/doc/vnet/changelog.gz) whose latest version is not the
    package's.
Usage: lintian_test.py --build-dir BUILD --source-dir SRC
"""

import argparse
import gzip
import os
import re
import subprocess
import sys
import tempfile

from cpack_deb import CpackError, build_deb


def overrides_without_reason(path: str) -> list:
    bad, commented = [], False
    for line in open(path):
        s = line.strip()
        if not s:
            commented = False
            continue
        if s.startswith("#"):
            commented = True
            continue
        if not commented:
            bad.append(s)
    return bad


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--build-dir", required=True)
    p.add_argument("--source-dir", required=True)
    args = p.parse_args()
    failures = []
    with tempfile.TemporaryDirectory(prefix="vnet-lintian-") as out:
        try:
            deb = build_deb(args.build_dir, out)
        except CpackError as e:
            print(f"FAIL: {e}")
            return 1
        version = subprocess.run(["dpkg-deb", "-f", deb, "Version"], capture_output=True,
                                 text=True, check=True).stdout.strip()
        r = subprocess.run(["lintian", "--info", "--show-overrides", "--display-level", ">=pedantic",
                            "--tag-display-limit", "0", "--fail-on", "none", deb],
                           capture_output=True, text=True, timeout=600)
        lines = r.stdout.splitlines()
        print("\n".join(lines))
        if r.returncode != 0:
            failures.append(f"lintian exited {r.returncode}: {r.stderr.strip()[-500:]}")
        tags = [re.match(r"^([A-Z]): \S+: (\S+)", line) for line in lines]
        tags = [(m.group(1), m.group(2), line) for m, line in zip(tags, lines) if m]
        for level, tag, line in tags:
            if level in ("E", "W"):
                failures.append(f"unjustified lintian tag: {line}")
            if tag in ("unused-override", "mismatched-override"):
                failures.append(f"stale override: {line}")
        overridden = sorted({tag for level, tag, _ in tags if level == "O"})

        with tempfile.TemporaryDirectory() as x:
            subprocess.run(["dpkg-deb", "-x", deb, x], check=True)
            shipped = os.path.join(x, "usr/share/lintian/overrides/vnet")
            if not os.path.exists(shipped):
                failures.append("the package ships no usr/share/lintian/overrides/vnet")
            else:
                for line in overrides_without_reason(shipped):
                    failures.append(f"override without a comment saying why: {line}")
            changelog = os.path.join(x, "usr/share/doc/vnet/changelog.gz")
            if not os.path.exists(changelog):
                failures.append("no usr/share/doc/vnet/changelog.gz")
            else:
                first = gzip.open(changelog, "rt").readline()
                m = re.match(r"^vnet \(([^)]+)\)", first)
                if not m or m.group(1) != version:
                    failures.append(f"changelog's latest entry is {first.strip()!r}, the "
                                    f"package is {version} (deploy/debian/changelog)")
        for f in failures:
            print("FAIL:", f)
        print(f"{os.path.basename(deb)}: {len(tags)} lintian lines, overridden: "
              f"{', '.join(overridden) or 'none'}; {'PASS' if not failures else 'FAILED'}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
