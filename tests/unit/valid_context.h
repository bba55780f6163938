// A context that passes validation, for a test to change one thing of. Written as a client
// may write it: the MAC and the IPv6 address in upper case (validation lower-cases them).
#pragma once

#include "vnet/v1/context.pb.h"

namespace vnet::testing {

inline v1::Context ValidContext() {
  v1::Context c;
  c.set_domain_id(5);
  c.set_device_id(0);
  c.set_interface_name("vif5.0");
  c.set_mac("00:16:3E:00:00:05");
  c.add_ipv4_addresses("198.18.0.5");
  c.add_ipv6_addresses("2001:DB8::5");
  return c;
}

}  // namespace vnet::testing
