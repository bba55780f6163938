// vnetctl context assign|release|get|list|update
#include <iostream>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "cli/command.h"
#include "cli/context_format.h"
#include "vnet/v1/context.grpc.pb.h"

namespace vnetctl {
namespace {

namespace v1 = vnet::v1;

// Thrown by the option converters; main turns it into exit code 2.
struct BadOption {
  std::string message;
};

uint32_t ToUint(const std::string& option, const std::string& text) {
  uint32_t value = 0;
  if (!absl::SimpleAtoi(text, &value)) {
    throw BadOption{absl::StrCat("--", option, ": '", text, "' is not a non-negative number")};
  }
  return value;
}

// 100M, 1.5G, 64k: bits per second with a decimal suffix.
uint64_t ToRate(const std::string& option, const std::string& text) {
  static const std::pair<char, double> kSuffixes[] = {
      {'k', 1e3}, {'m', 1e6}, {'g', 1e9}, {'t', 1e12}};
  std::string number = absl::AsciiStrToLower(text);
  double scale = 1;
  for (const auto& [suffix, factor] : kSuffixes) {
    if (!number.empty() && number.back() == suffix) {
      number.pop_back();
      scale = factor;
    }
  }
  double value = 0;
  if (!absl::SimpleAtod(number, &value) || value < 0) {
    throw BadOption{absl::StrCat("--", option, ": '", text, "' is not a rate like 100M or 2.5G")};
  }
  return static_cast<uint64_t>(value * scale);
}

v1::Offloads ToOffloads(const std::string& text) {
  v1::Offloads o;
  if (text == "none") return o;
  for (absl::string_view name : absl::StrSplit(text, ',')) {
    if (name == "all") {
      o.set_tx_checksum(true);
      o.set_tso_v4(true);
      o.set_tso_v6(true);
      o.set_scatter_gather(true);
      o.set_rx_checksum(true);
      o.set_rx_scatter_gather(true);
      o.set_rx_tso_v4(true);
      o.set_rx_tso_v6(true);
    } else if (name == "tx-csum") {
      o.set_tx_checksum(true);
    } else if (name == "tso4") {
      o.set_tso_v4(true);
    } else if (name == "tso6") {
      o.set_tso_v6(true);
    } else if (name == "sg") {
      o.set_scatter_gather(true);
    } else if (name == "rx-csum") {
      o.set_rx_checksum(true);
    } else if (name == "rx-sg") {
      o.set_rx_scatter_gather(true);
    } else if (name == "rx-tso4") {
      o.set_rx_tso_v4(true);
    } else if (name == "rx-tso6") {
      o.set_rx_tso_v6(true);
    } else if (absl::ConsumePrefix(&name, "big-tcp=")) {
      uint32_t size = 0;
      if (!absl::SimpleAtoi(name, &size))
        throw BadOption{absl::StrCat("--offloads: big-tcp=BYTES, not '", name, "'")};
      o.set_big_tcp_max_size(size);
    } else {
      throw BadOption{absl::StrCat("--offloads: unknown offload '", name,
                                   "' (known: tx-csum,tso4,tso6,sg,rx-csum,rx-sg,rx-tso4,rx-tso6,"
                                   " big-tcp=BYTES, all, none)")};
    }
  }
  return o;
}

// Addresses go to the IPv4 or IPv6 list by their look; the server validates them.
void AddAddresses(const std::vector<std::string>& ips, v1::Context* ctx) {
  for (const std::string& ip : ips) {
    if (ip.find(':') != std::string::npos) {
      ctx->add_ipv6_addresses(ip);
    } else {
      ctx->add_ipv4_addresses(ip);
    }
  }
}

const std::vector<OptionSpec>& SpecOptions() {
  static const auto* options = new std::vector<OptionSpec>{
      {"mac", "MAC", "guest MAC address"},
      {"ip", "ADDR", "allowed IPv4 or IPv6 address", true},
      {"link-local", "ADDR",
       "IPv6 link-local address (fe80::/10) the guest uses; 'default' for the MAC's EUI-64 one "
       "(the default)",
       true},
      {"vlan", "N", "access VLAN 1..4094 (default 1)"},
      {"mtu", "N", "MTU (default 1500)"},
      {"offloads", "LIST",
       "guest transmit tx-csum,tso4,tso6,sg; guest receive rx-csum,rx-sg,rx-tso4,rx-tso6 | all | "
       "none (default all); big-tcp=BYTES: BIG TCP up to BYTES (65537..524280, veth guests)"},
      {"rate", "BITS", "transmit limit in bit/s, suffix k/M/G; 0 unlimited (default)"},
      {"burst", "BYTES", "transmit burst in bytes (default 250 ms of the rate, at least 128 KiB)"},
      {"rx-rate", "BITS", "receive limit in bit/s, suffix k/M/G; 0 unlimited (default)"},
      {"rx-burst", "BYTES",
       "receive burst in bytes (default 250 ms of the rate, at least 128 KiB)"},
      {"storm-broadcast", "PPS", "broadcast frames per second the guest may send; 0 unlimited"},
      {"storm-multicast", "PPS", "multicast frames per second the guest may send; 0 unlimited"},
      {"storm-unknown-unicast", "PPS", "frames per second to MACs of no local guest; 0 unlimited"},
  };
  return *options;
}

std::vector<OptionSpec> RefOptions() {
  return {{"interface", "NAME", "select by interface name"},
          {"domain", "N", "select by Xen domain id (with --device)"},
          {"device", "N", "select by Xen device id (with --domain)"}};
}

template <typename... Lists>
std::vector<OptionSpec> Join(const Lists&... lists) {
  std::vector<OptionSpec> all;
  (all.insert(all.end(), lists.begin(), lists.end()), ...);
  return all;
}

// ID positional, --interface, or --domain with --device.
v1::ContextRef ToRef(const ParsedArgs& args) {
  v1::ContextRef ref;
  int given = 0;
  if (args.positionals.size() > 1) throw BadOption{"give at most one context id"};
  if (!args.positionals.empty()) {
    ref.set_id(ToUint("id", args.positionals[0]));
    ++given;
  }
  if (auto name = args.Get("interface")) {
    ref.set_interface_name(*name);
    ++given;
  }
  if (args.Has("domain") || args.Has("device")) {
    if (!args.Has("domain") || !args.Has("device")) {
      throw BadOption{"--domain and --device go together"};
    }
    ref.mutable_device()->set_domain_id(ToUint("domain", *args.Get("domain")));
    ref.mutable_device()->set_device_id(ToUint("device", *args.Get("device")));
    ++given;
  }
  if (given != 1)
    throw BadOption{"name one context: ID, --interface NAME or --domain N --device N"};
  return ref;
}

// Copies the spec options that were given into ctx; returns their field names.
std::vector<std::string> ApplySpec(const ParsedArgs& args, v1::Context* ctx) {
  std::vector<std::string> fields;
  if (auto mac = args.Get("mac")) {
    ctx->set_mac(*mac);
    fields.emplace_back("mac");
  }
  if (args.Has("ip")) {
    AddAddresses(args.GetAll("ip"), ctx);
    fields.emplace_back("ipv4_addresses");
    fields.emplace_back("ipv6_addresses");
  }
  if (args.Has("link-local")) {
    for (const std::string& ll : args.GetAll("link-local")) {
      if (ll != "default") ctx->add_ipv6_link_local_addresses(ll);
    }
    fields.emplace_back("ipv6_link_local_addresses");
  }
  if (auto vlan = args.Get("vlan")) {
    ctx->set_vlan(ToUint("vlan", *vlan));
    fields.emplace_back("vlan");
  }
  if (auto mtu = args.Get("mtu")) {
    ctx->set_mtu(ToUint("mtu", *mtu));
    fields.emplace_back("mtu");
  }
  if (auto offloads = args.Get("offloads")) {
    *ctx->mutable_offloads() = ToOffloads(*offloads);
    fields.emplace_back("offloads");
  }
  if (args.Has("rate") || args.Has("burst")) {
    if (auto rate = args.Get("rate"))
      ctx->mutable_rate_limit()->set_bits_per_second(ToRate("rate", *rate));
    if (auto burst = args.Get("burst")) {
      ctx->mutable_rate_limit()->set_burst_bytes(ToUint("burst", *burst));
    }
    fields.emplace_back("rate_limit");
  }
  if (args.Has("rx-rate") || args.Has("rx-burst")) {
    if (auto rate = args.Get("rx-rate"))
      ctx->mutable_rx_rate_limit()->set_bits_per_second(ToRate("rx-rate", *rate));
    if (auto burst = args.Get("rx-burst")) {
      ctx->mutable_rx_rate_limit()->set_burst_bytes(ToUint("rx-burst", *burst));
    }
    fields.emplace_back("rx_rate_limit");
  }
  // Each kind its own mask path: an update of one kind leaves the others as they are.
  v1::StormControl* storm = ctx->mutable_storm_control();
  if (auto pps = args.Get("storm-broadcast")) {
    storm->set_broadcast_pps(ToUint("storm-broadcast", *pps));
    fields.emplace_back("storm_control.broadcast_pps");
  }
  if (auto pps = args.Get("storm-multicast")) {
    storm->set_multicast_pps(ToUint("storm-multicast", *pps));
    fields.emplace_back("storm_control.multicast_pps");
  }
  if (auto pps = args.Get("storm-unknown-unicast")) {
    storm->set_unknown_unicast_pps(ToUint("storm-unknown-unicast", *pps));
    fields.emplace_back("storm_control.unknown_unicast_pps");
  }
  if (storm->ByteSizeLong() == 0) ctx->clear_storm_control();
  return fields;
}

int PrintContext(const v1::Context& ctx, Session& session) {
  if (session.format() == OutputFormat::kJson) {
    Session::PrintJson(ctx);
  } else {
    ContextTable({ctx}).Print(std::cout);
  }
  return kExitOk;
}

int Assign(const ParsedArgs& args, Session& session) {
  if (!args.positionals.empty()) throw BadOption{"assign takes no positional arguments"};
  for (const char* required : {"domain", "device", "interface", "mac"}) {
    if (!args.Has(required)) throw BadOption{absl::StrCat("--", required, " is required")};
  }
  v1::AssignContextRequest req;
  v1::Context* ctx = req.mutable_context();
  ctx->set_domain_id(ToUint("domain", *args.Get("domain")));
  ctx->set_device_id(ToUint("device", *args.Get("device")));
  ctx->set_interface_name(*args.Get("interface"));
  ApplySpec(args, ctx);
  v1::Context resp;
  auto call = session.NewCall();
  grpc::Status status =
      v1::ContextService::NewStub(session.channel())->AssignContext(call.get(), req, &resp);
  if (!status.ok()) return session.Refused(status);
  return PrintContext(resp, session);
}

int Release(const ParsedArgs& args, Session& session) {
  v1::ReleaseContextRequest req;
  *req.mutable_ref() = ToRef(args);
  req.set_allow_missing(args.Has("allow-missing"));
  if (auto wait = args.Get("force")) req.mutable_force_wait()->set_seconds(ToUint("force", *wait));
  v1::ReleaseContextResponse resp;
  auto call = session.NewCall();
  grpc::Status status =
      v1::ContextService::NewStub(session.channel())->ReleaseContext(call.get(), req, &resp);
  if (!status.ok()) return session.Refused(status);
  if (session.format() == OutputFormat::kJson) {
    Session::PrintJson(resp);
  } else if (resp.has_context()) {
    std::cout << "released context " << resp.context().id() << " ("
              << resp.context().interface_name() << ")";
    if (resp.abandoned_descriptors() != 0) {
      std::cout << "; abandoned " << resp.abandoned_descriptors() << " descriptors in flight";
    }
    std::cout << "\n";
  } else {
    std::cout << "no such context; nothing to release\n";
  }
  return kExitOk;
}

int Get(const ParsedArgs& args, Session& session) {
  v1::GetContextRequest req;
  *req.mutable_ref() = ToRef(args);
  v1::Context resp;
  auto call = session.NewCall();
  grpc::Status status =
      v1::ContextService::NewStub(session.channel())->GetContext(call.get(), req, &resp);
  if (!status.ok()) return session.Refused(status);
  return PrintContext(resp, session);
}

int List(const ParsedArgs& args, Session& session) {
  if (!args.positionals.empty()) throw BadOption{"list takes no positional arguments"};
  // Page by page (each call with its own deadline), into one answer.
  v1::ListContextsResponse resp;
  auto stub = v1::ContextService::NewStub(session.channel());
  v1::ListContextsRequest req;
  do {
    v1::ListContextsResponse page;
    auto call = session.NewCall();
    grpc::Status status = stub->ListContexts(call.get(), req, &page);
    if (!status.ok()) return session.Refused(status);
    req.set_page_token(page.next_page_token());
    page.clear_next_page_token();
    resp.MergeFrom(page);
  } while (!req.page_token().empty());
  if (session.format() == OutputFormat::kJson) {
    Session::PrintJson(resp);
  } else {
    ContextTable({resp.contexts().begin(), resp.contexts().end()}).Print(std::cout);
    std::cout << resp.contexts_size() << " of " << resp.capacity() << " contexts in use\n";
  }
  return kExitOk;
}

int Update(const ParsedArgs& args, Session& session) {
  v1::UpdateContextRequest req;
  *req.mutable_ref() = ToRef(args);
  for (const std::string& field : ApplySpec(args, req.mutable_context())) {
    req.mutable_update_mask()->add_paths(field);
  }
  if (req.update_mask().paths_size() == 0)
    throw BadOption{"nothing to update: give a field option"};
  v1::Context resp;
  auto call = session.NewCall();
  grpc::Status status =
      v1::ContextService::NewStub(session.channel())->UpdateContext(call.get(), req, &resp);
  if (!status.ok()) return session.Refused(status);
  return PrintContext(resp, session);
}

// Converts BadOption into the usage exit code for one subcommand.
std::function<int(const ParsedArgs&, Session&)> Guarded(const std::string& path,
                                                        int (*run)(const ParsedArgs&, Session&)) {
  return [path, run](const ParsedArgs& args, Session& session) {
    try {
      return run(args, session);
    } catch (const BadOption& bad) {
      return UsageError(path, bad.message);
    }
  };
}

}  // namespace

Command ContextCommand() {
  const std::vector<OptionSpec> identity = {
      {"domain", "N", "Xen domain id"},
      {"device", "N", "Xen device id (the N of vifD.N)"},
      {"interface", "NAME", "the guest's host-side interface"}};
  Command group{"context", "assign, release and inspect guest contexts", "", {}, nullptr, {}};
  group.subcommands = {
      {"assign",
       "assign a context to a guest interface (idempotent)",
       "",
       Join(identity, SpecOptions()),
       Guarded("context assign", Assign),
       {}},
      {"release",
       "release a context and detach its fast path",
       "[ID]",
       Join(RefOptions(),
            std::vector<OptionSpec>{
                {"allow-missing", "", "succeed if it does not exist"},
                {"force", "SECONDS",
                 "guest destroyed: wait this long for buffers in flight, then release anyway"}}),
       Guarded("context release", Release),
       {}},
      {"get", "show one context", "[ID]", RefOptions(), Guarded("context get", Get), {}},
      {"list", "list all contexts", "", {}, Guarded("context list", List), {}},
      {"update",
       "change a context's addresses, VLAN, MTU, offloads or rate",
       "[ID]",
       Join(RefOptions(), SpecOptions()),
       Guarded("context update", Update),
       {}},
  };
  return group;
}

}  // namespace vnetctl
