#!/usr/bin/python3
"""The .deb that `cpack -G DEB` builds holds what docs/operations.md says it installs, with
library dependencies from dpkg-shlibdeps and maintainer scripts that enable the service.
Usage: deb_package_test.py --build-dir BUILD --source-dir SRC
"""
import argparse
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "package"))
from cpack_deb import CpackError, build_deb  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--build-dir", required=True)
    p.add_argument("--source-dir", required=True)
    args = p.parse_args()
    failures = []
    with tempfile.TemporaryDirectory(prefix="vnet-deb-") as out:
        try:
            deb = build_deb(args.build_dir, out)
        except CpackError as e:
            print(f"FAIL: {e}")
            return 1
        files = subprocess.run(["dpkg-deb", "-c", deb], capture_output=True, text=True,
                               check=True).stdout
        paths = {line.split()[-1].lstrip(".") for line in files.splitlines()}
        want = ["/usr/sbin/vnetd", "/usr/bin/vnetctl", "/usr/lib/systemd/system/vnetd.service",
                "/usr/share/doc/vnet/examples/vnetd.conf.example",
                "/usr/share/doc/vnet/operations.md",
                "/usr/share/vnet/prometheus/prometheus.yml",
                "/usr/share/vnet/prometheus/vnet-alerts.yml",
                "/usr/share/vnet/grafana/vnet-dashboard.json"]
        if os.path.exists(os.path.join(args.source_dir, "xen-hooks", "vif-vnet")):
            want.append("/etc/xen/scripts/vif-vnet")
        for w in want:
            if w not in paths:
                failures.append(f"{os.path.basename(deb)} lacks {w}")
        depends = subprocess.run(["dpkg-deb", "-f", deb, "Depends"], capture_output=True,
                                 text=True, check=True).stdout
        for dep in ("iproute2", "libbpf1", "libxdp1", "libgrpc++1.51", "libprotobuf32"):
            if dep not in depends:
                failures.append(f"Depends lacks {dep}: {depends.strip()}")
        with tempfile.TemporaryDirectory() as ctl:
            subprocess.run(["dpkg-deb", "-e", deb, ctl], check=True)
            postinst = open(os.path.join(ctl, "postinst")).read()
            # deploy/debian/postinst enables the unit as dh_installsystemd does.
            if "deb-systemd-helper enable 'vnetd.service'" not in postinst:
                failures.append("postinst does not enable vnetd.service")
            if not os.access(os.path.join(ctl, "postinst"), os.X_OK):
                failures.append("postinst is not executable")
        for f in failures:
            print("FAIL:", f)
        print(f"{os.path.basename(deb)}: {len(paths)} paths; "
              f"{'PASS' if not failures else 'FAILED'}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
