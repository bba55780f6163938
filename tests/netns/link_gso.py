#!/usr/bin/python3
"""A link's super-packet size limits (BIG TCP), read or set through rtnetlink, because
iproute2 before 6.3 knows no gso_ipv4_max_size/gro_ipv4_max_size. Run in the namespace of
the link (ip netns exec):
  link_gso.py IFNAME          prints gso_max gro_max gso_ipv4_max gro_ipv4_max tso_max
  link_gso.py IFNAME SIZE     sets the four max sizes to SIZE (the IPv4 ones where they exist)
"""

import socket
import struct
import sys

RTM_NEWLINK, RTM_GETLINK = 16, 18
NLM_F_REQUEST, NLM_F_ACK = 1, 4
NLMSG_ERROR = 2
IFLA = {"gso_max": 41, "gro_max": 58, "tso_max": 59, "gso_ipv4_max": 63, "gro_ipv4_max": 64}


def _request(msg_type: int, flags: int, ifindex: int, attrs: bytes = b"") -> bytes:
    body = struct.pack("=BxHiII", socket.AF_UNSPEC, 0, ifindex, 0, 0) + attrs
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
    try:
        s.sendto(struct.pack("=IHHII", 16 + len(body), msg_type, flags, 1, 0) + body, (0, 0))
        return s.recv(65536)
    finally:
        s.close()


def read(ifname: str) -> dict:
    reply = _request(RTM_GETLINK, NLM_F_REQUEST, socket.if_nametoindex(ifname))
    length, kind = struct.unpack_from("=IH", reply)
    if kind == NLMSG_ERROR:
        raise OSError(-struct.unpack_from("=i", reply, 16)[0], f"RTM_GETLINK {ifname}")
    got = {k: 0 for k in IFLA}
    off = 16 + 16
    while off + 4 <= length:
        alen, atype = struct.unpack_from("=HH", reply, off)
        for name, num in IFLA.items():
            if atype == num and alen == 8:
                got[name] = struct.unpack_from("=I", reply, off + 4)[0]
        off += (alen + 3) & ~3
    return got


def set_size(ifname: str, size: int) -> None:
    have = read(ifname)
    names = ["gso_max", "gro_max"] + ([] if have["gso_ipv4_max"] == 0 else
                                      ["gso_ipv4_max", "gro_ipv4_max"])
    attrs = b"".join(struct.pack("=HHI", 8, IFLA[n], size) for n in names)
    reply = _request(RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK, socket.if_nametoindex(ifname),
                     attrs)
    err = -struct.unpack_from("=i", reply, 16)[0]
    if err:
        raise OSError(err, f"set {ifname} gso/gro max size {size}")


if __name__ == "__main__":
    if len(sys.argv) == 3:
        set_size(sys.argv[1], int(sys.argv[2]))
    g = read(sys.argv[1])
    print(g["gso_max"], g["gro_max"], g["gso_ipv4_max"], g["gro_ipv4_max"], g["tso_max"])
