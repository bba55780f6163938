#!/usr/bin/python3
"""Checks the bench pacer (edt_pacer.bpf.c) through BPF_PROG_TEST_RUN on this host (no fq
needed): a paced guest's frames get departure times one wire time apart, frames past the
horizon are dropped, other MACs pass untouched. Run as root; prints each check, exits 1 on
any failure. Leaves nothing behind (pins under /sys/fs/bpf/vnet-edt-check-PID)."""
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
MAC = bytes.fromhex("02000000000a")
SKB_SIZE, TSTAMP_OFF = 192, 152  # struct __sk_buff, offsetof(tstamp)
TC_ACT_OK, TC_ACT_SHOT = 0, 2
failed = []


def check(cond, what):
    print(f"  {'ok  ' if cond else 'FAIL'} {what}")
    if not cond:
        failed.append(what)


def run(*cmd):
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout


def main():
    if os.geteuid() != 0:
        print("check_pacer: FAIL: needs root (bpftool prog load)")
        return 1
    missing = [tool for tool in ("clang", "bpftool") if not shutil.which(tool)]
    if missing:
        print(f"check_pacer: FAIL: not installed: {', '.join(missing)}")
        return 1
    tmp = tempfile.mkdtemp(prefix="vnet-edt-check.")
    pin = f"/sys/fs/bpf/vnet-edt-check-{os.getpid()}"
    try:
        obj = os.path.join(tmp, "edt_pacer.bpf.o")
        run("clang", "-target", "bpf", "-mcpu=v3", "-O2", "-g", "-Wall", "-Wextra", "-Werror",
            f"-I/usr/include/{os.uname().machine}-linux-gnu",
            "-c", os.path.join(HERE, "edt_pacer.bpf.c"), "-o", obj)
        os.mkdir(pin)
        run("bpftool", "prog", "load", obj, f"{pin}/prog", "type", "classifier", "pinmaps", pin)
        key = [f"0x{b:02x}" for b in MAC + b"\0\0"]

        def configure(rate_bps, horizon_ns):
            value = b"".join(struct.pack("<Q", v) for v in (rate_bps, horizon_ns, 0, 0, 0))
            run("bpftool", "map", "update", "pinned", f"{pin}/edt_guests", "key", *key,
                "value", *[f"0x{b:02x}" for b in value])

        def guest():
            out = json.loads(run("bpftool", "-j", "map", "lookup", "pinned",
                                 f"{pin}/edt_guests", "key", *key))
            return out["formatted"]["value"]

        def send(src_mac, repeat):
            frame = os.path.join(tmp, "frame")
            ctx_in, ctx_out = os.path.join(tmp, "ctx_in"), os.path.join(tmp, "ctx_out")
            with open(frame, "wb") as f:  # 1000 bytes: dst, src, IPv4, padding
                f.write(bytes.fromhex("020000000001") + src_mac + b"\x08\x00" + bytes(986))
            with open(ctx_in, "wb") as f:
                f.write(bytes(SKB_SIZE))
            out = run("bpftool", "prog", "run", "pinned", f"{pin}/prog", "data_in", frame,
                      "ctx_in", ctx_in, "ctx_out", ctx_out, "repeat", str(repeat))
            retval = int(out.split("Return value:")[1].split()[0].rstrip(","))
            with open(ctx_out, "rb") as f:
                tstamp = struct.unpack_from("<Q", f.read(), TSTAMP_OFF)[0]
            return retval, tstamp

        # 8 Mbit/s: a 1000-byte frame takes 1 ms on the wire.
        configure(8_000_000, 1_000_000_000)
        retval, tstamp = send(MAC, 3)
        g = guest()
        check(retval == TC_ACT_OK and tstamp > 0, f"paced frame passes with a departure time "
              f"(return {retval}, tstamp {tstamp})")
        check(g["passed"] == 3 and g["next_ns"] - tstamp == 1_000_000,
              f"3 frames back to back: the next slot is one wire time (1 ms) after the last "
              f"one's (passed {g['passed']}, next - last {g['next_ns'] - tstamp} ns)")
        # Horizon 2.5 ms: of 20 back-to-back frames about 3 fit, the rest are dropped.
        configure(8_000_000, 2_500_000)
        retval, _ = send(MAC, 20)
        g = guest()
        check(retval == TC_ACT_SHOT and 3 <= g["passed"] <= 4 and g["dropped"] >= 16,
              f"past the horizon frames are dropped (last return {retval}, passed "
              f"{g['passed']}, dropped {g['dropped']})")
        retval, tstamp = send(bytes.fromhex("02000000000b"), 1)
        check(retval == TC_ACT_OK and tstamp == 0, f"another MAC passes unpaced "
              f"(return {retval}, tstamp {tstamp})")
    finally:
        shutil.rmtree(pin, ignore_errors=True)
        shutil.rmtree(tmp, ignore_errors=True)
    print("check_pacer: " + ("FAIL" if failed else "PASS"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
