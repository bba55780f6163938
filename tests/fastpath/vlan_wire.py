#!/usr/bin/python3
"""A user-space 802.1Q "VLAN interface" for the wire namespace, for kernels built without
CONFIG_VLAN_8021Q (no `ip link add ... type vlan`).

    vlan_wire.py TRUNK VID:PORT [VID:PORT ...] [--max-seconds N]

Frames received on TRUNK tagged with VID (tag inline or in the packet metadata) are sent,
untagged, out of PORT; frames received on PORT (sent by the host stack through PORT's veth
peer, which carries the VLAN's addresses) are tagged with VID and sent out of TRUNK.
Untagged frames and other VIDs are ignored (untagged ones are the wire host's own: VLAN 1).
Prints READY once listening and "vid=N up=X down=Y" counters when it ends (SIGTERM, stdin
closed, or --max-seconds). Standard library only.
"""

import select
import signal
import socket
import struct
import sys
import time

SOL_PACKET = 263
PACKET_AUXDATA = 8
TP_STATUS_VLAN_VALID = 0x10
ETH_P_ALL = 0x0003
ETH_P_8021Q = 0x8100


def main() -> int:
    args = sys.argv[1:]
    max_seconds = 120.0
    if "--max-seconds" in args:
        i = args.index("--max-seconds")
        max_seconds = float(args[i + 1])
        del args[i:i + 2]
    trunk_if, ports = args[0], {}
    for spec in args[1:]:
        vid, port = spec.split(":", 1)
        ports[int(vid)] = port
    trunk = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    trunk.setsockopt(SOL_PACKET, PACKET_AUXDATA, 1)
    trunk.bind((trunk_if, ETH_P_ALL))
    access = {}
    for vid, port in ports.items():
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        s.bind((port, ETH_P_ALL))
        access[vid] = s
    by_fd = {s.fileno(): vid for vid, s in access.items()}
    up = {vid: 0 for vid in ports}     # port -> trunk (tagged)
    down = {vid: 0 for vid in ports}   # trunk -> port (untagged)
    stop = [False]
    signal.signal(signal.SIGTERM, lambda *_: stop.__setitem__(0, True))
    print("READY", flush=True)
    end = time.monotonic() + max_seconds
    watch = [trunk, sys.stdin] + list(access.values())
    while not stop[0] and time.monotonic() < end:
        try:
            ready, _, _ = select.select(watch, [], [], 0.1)
        except InterruptedError:
            continue
        for s in ready:
            if s is sys.stdin:
                if not sys.stdin.readline():
                    stop[0] = True
                continue
            if s is trunk:
                data, anc, _, addr = trunk.recvmsg(65600, socket.CMSG_SPACE(20))
                if addr[2] == socket.PACKET_OUTGOING or len(data) < 14:
                    continue
                vid = None
                for level, kind, cdata in anc:
                    if level == SOL_PACKET and kind == PACKET_AUXDATA and len(cdata) >= 20:
                        status, _, _, _, _, tci, tpid = struct.unpack("=IIIHHHH", cdata[:20])
                        if status & TP_STATUS_VLAN_VALID:
                            vid = tci & 0x0fff
                if vid is None and struct.unpack("!H", data[12:14])[0] == ETH_P_8021Q:
                    vid = struct.unpack("!H", data[14:16])[0] & 0x0fff
                    data = data[:12] + data[16:]
                if vid in access:
                    access[vid].send(data)
                    down[vid] += 1
                continue
            vid = by_fd[s.fileno()]
            data, addr = s.recvfrom(65600)
            if addr[2] == socket.PACKET_OUTGOING or len(data) < 14:
                continue
            trunk.send(data[:12] + struct.pack("!HH", ETH_P_8021Q, vid) + data[12:])
            up[vid] += 1
    for vid in ports:
        print(f"vid={vid} up={up[vid]} down={down[vid]}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
