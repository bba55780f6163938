"""Builds the vnet .deb from a build directory with `cpack -G DEB`: shared by the package
tests (lintian, contents, the package under systemd)."""
import glob
import os
import subprocess


class CpackError(Exception):
    """cpack failed or did not make exactly one .deb; the message has its output's tail."""


def build_deb(build_dir: str, out: str) -> str:
    """The path of the one .deb cpack writes into `out`."""
    r = subprocess.run(["cpack", "-G", "DEB", "-B", out, "--config",
                        os.path.join(build_dir, "CPackConfig.cmake")],
                       capture_output=True, text=True, timeout=600)
    debs = glob.glob(os.path.join(out, "*.deb"))
    if r.returncode != 0 or len(debs) != 1:
        raise CpackError(f"cpack: {r.stdout[-1500:]}{r.stderr[-1500:]}")
    return debs[0]
