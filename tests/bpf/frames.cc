#include "tests/bpf/frames.h"

#include <arpa/inet.h>

#include <cstdio>
#include <stdexcept>

namespace vnet::testing {
namespace {

void Put16(Bytes& b, uint16_t v) {
  b.push_back(static_cast<uint8_t>(v >> 8));
  b.push_back(static_cast<uint8_t>(v));
}

}  // namespace

Bytes Mac(const std::string& text) {
  unsigned m[6];
  if (std::sscanf(text.c_str(), "%x:%x:%x:%x:%x:%x", &m[0], &m[1], &m[2], &m[3], &m[4], &m[5]) != 6)
    throw std::invalid_argument(text);
  return Bytes(m, m + 6);
}

Bytes Ip4(const std::string& text) {
  Bytes b(4);
  if (inet_pton(AF_INET, text.c_str(), b.data()) != 1) throw std::invalid_argument(text);
  return b;
}

Bytes Ip6(const std::string& text) {
  Bytes b(16);
  if (inet_pton(AF_INET6, text.c_str(), b.data()) != 1) throw std::invalid_argument(text);
  return b;
}

Bytes Cat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const Bytes& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

Bytes Eth(const Bytes& dst, const Bytes& src, uint16_t ethertype, uint16_t vlan) {
  Bytes b = Cat({dst, src});
  if (vlan != 0) {
    Put16(b, 0x8100);
    Put16(b, vlan);
  }
  Put16(b, ethertype);
  return b;
}

Bytes Udp(uint16_t sport, uint16_t dport) {
  Bytes b;
  Put16(b, sport);
  Put16(b, dport);
  Put16(b, 8 + 4);
  Put16(b, 0);
  b.insert(b.end(), {0xde, 0xad, 0xbe, 0xef});  // payload
  return b;
}

Bytes Ipv4Udp(const Bytes& src, const Bytes& dst, uint16_t sport, uint16_t dport) {
  Bytes udp = Udp(sport, dport);
  Bytes b = {0x45, 0};
  Put16(b, static_cast<uint16_t>(20 + udp.size()));
  b.insert(b.end(), {0, 1, 0, 0, 64, 17, 0, 0});
  return Cat({b, src, dst, udp});
}

Bytes Tcp(uint32_t payload) {
  Bytes b;
  Put16(b, 40000);
  Put16(b, 5201);
  b.insert(b.end(), {0, 0, 0, 1, 0, 0, 0, 0, 0x80, 0x18});  // seq, ack, doff 8, PSH|ACK
  Put16(b, 0xffff);
  b.insert(b.end(), 4 + 12, 0);  // checksum, urgent, NOP NOP timestamp option
  b.insert(b.end(), payload, 0);
  return b;
}

Bytes Ipv4Tcp(const Bytes& src, const Bytes& dst, uint32_t payload) {
  Bytes tcp = Tcp(payload);
  Bytes b = {0x45, 0};
  Put16(b, static_cast<uint16_t>(20 + tcp.size()));
  b.insert(b.end(), {0, 1, 0x40, 0, 64, 6, 0, 0});
  return Cat({b, src, dst, tcp});
}

Bytes Ipv6(const Bytes& src, const Bytes& dst, uint8_t next, const Bytes& payload) {
  Bytes b = {0x60, 0, 0, 0};
  Put16(b, static_cast<uint16_t>(payload.size()));
  b.push_back(next);
  b.push_back(255);
  return Cat({b, src, dst, payload});
}

Bytes Icmp6(uint8_t type) { return {type, 0, 0, 0, 0, 0, 0, 0}; }

Bytes Nd(uint8_t type, const Bytes& target, const Bytes& lladdr) {
  Bytes b = Cat({Icmp6(type), target});
  if (!lladdr.empty()) {
    b.push_back(type == 136 ? 2 : 1);
    b.push_back(1);  // 8 bytes
    b.insert(b.end(), lladdr.begin(), lladdr.end());
  }
  return b;
}

Bytes ExtHdr(uint8_t next, size_t bytes, int len_field) {
  if (bytes < 8 || bytes % 8 != 0) throw std::invalid_argument("extension header size");
  Bytes b(bytes, 0);  // Pad1 options
  b[0] = next;
  b[1] = static_cast<uint8_t>(len_field >= 0 ? len_field : static_cast<int>(bytes / 8 - 1));
  return b;
}

Bytes Frag(uint8_t next, uint16_t offset, bool more, uint32_t id) {
  Bytes b = {next, 0};
  Put16(b, static_cast<uint16_t>((offset << 3) | (more ? 1 : 0)));
  b.insert(b.end(), {static_cast<uint8_t>(id >> 24), static_cast<uint8_t>(id >> 16),
                     static_cast<uint8_t>(id >> 8), static_cast<uint8_t>(id)});
  return b;
}

Bytes Ah(uint8_t next, size_t bytes) {
  if (bytes < 12 || bytes % 4 != 0) throw std::invalid_argument("AH size");
  Bytes b(bytes, 0);
  b[0] = next;
  b[1] = static_cast<uint8_t>(bytes / 4 - 2);
  return b;
}

Bytes NdOpt(uint8_t type, const Bytes& data, int len_field) {
  Bytes b = {type, 0};
  b.insert(b.end(), data.begin(), data.end());
  while (b.size() % 8 != 0) b.push_back(0);
  b[1] = static_cast<uint8_t>(len_field >= 0 ? len_field : static_cast<int>(b.size() / 8));
  return b;
}

Bytes NdMsg(uint8_t type, const Bytes& target, const Bytes& options) {
  return Cat({Icmp6(type), target, options});
}

Bytes Rs(const Bytes& options) { return Cat({Icmp6(133), options}); }

Bytes Arp(uint16_t op, const Bytes& sha, const Bytes& sip, const Bytes& tha, const Bytes& tip) {
  Bytes b;
  Put16(b, 1);
  Put16(b, 0x0800);
  b.push_back(6);
  b.push_back(4);
  Put16(b, op);
  return Cat({b, sha, sip, tha, tip});
}

std::string Hex(const Bytes& b) {
  std::string s;
  char buf[4];
  for (uint8_t c : b) {
    std::snprintf(buf, sizeof(buf), "%02x", c);
    s += buf;
  }
  return s;
}

}  // namespace vnet::testing
