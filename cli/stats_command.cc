// vnetctl stats [CONTEXT] [--watch [--interval S]] and vnetctl top
#include "cli/stats_command.h"

#include <unistd.h>

#include <chrono>
#include <iostream>
#include <optional>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "cli/stats_rates.h"
#include "cli/table.h"
#include "vnet/v1/stats.grpc.pb.h"

namespace vnetctl {
namespace {

namespace v1 = vnet::v1;

struct LiveOptions {
  double interval = 1;
  long iterations = 0;  // 0: until interrupted
};

// Parses --interval and --iterations; on error returns the message.
std::optional<std::string> ParseLive(const ParsedArgs& args, LiveOptions* live) {
  if (auto text = args.Get("interval")) {
    if (!absl::SimpleAtod(*text, &live->interval) || live->interval < 0.1 ||
        live->interval > 3600) {
      return absl::StrCat("--interval: '", *text, "' is not a number of seconds 0.1..3600");
    }
  }
  if (auto text = args.Get("iterations")) {
    if (!absl::SimpleAtoi(*text, &live->iterations) || live->iterations <= 0) {
      return absl::StrCat("--iterations: '", *text, "' is not a positive number");
    }
  }
  return std::nullopt;
}

// CONTEXT is an id or an interface name.
v1::GetContextStatsRequest ToRequest(const ParsedArgs& args) {
  v1::GetContextStatsRequest req;
  if (args.positionals.empty()) return req;
  uint32_t id = 0;
  if (absl::SimpleAtoi(args.positionals[0], &id)) {
    req.mutable_ref()->set_id(id);
  } else {
    req.mutable_ref()->set_interface_name(args.positionals[0]);
  }
  return req;
}

grpc::Status Read(Session& session, const v1::GetContextStatsRequest& req,
                  v1::GetContextStatsResponse* resp) {
  auto call = session.NewCall();
  return v1::StatsService::NewStub(session.channel())->GetContextStats(call.get(), req, resp);
}

void PrintCounters(const v1::GetContextStatsResponse& resp) {
  Table table({"ID", "DOMAIN", "INTERFACE", "RX PKTS", "RX BYTES", "TX PKTS", "TX BYTES", "DROPS"});
  for (const auto& s : resp.contexts()) {
    table.AddRow({absl::StrCat(s.context_id()), absl::StrCat(s.domain_id()), s.interface_name(),
                  absl::StrCat(s.rx_packets()), absl::StrCat(s.rx_bytes()),
                  absl::StrCat(s.tx_packets()), absl::StrCat(s.tx_bytes()),
                  absl::StrCat(TotalDrops(s))});
  }
  table.Print(std::cout);
  // One context: the detail that does not fit the table.
  if (resp.contexts_size() != 1) return;
  const v1::ContextStats& s = resp.contexts(0);
  std::cout << "\ngso packets (segments): rx " << s.rx_gso_packets() << " (" << s.rx_gso_segments()
            << "), tx " << s.tx_gso_packets() << " (" << s.tx_gso_segments() << ")\n"
            << "done by the kernel for the guest: rx_gso_segmented " << s.rx_gso_segmented()
            << ", rx_gso_resized " << s.rx_gso_resized() << ", rx_csum_completed "
            << s.rx_csum_completed() << "\n";
  if (s.drops_size() > 0) {
    Table drops({"DIRECTION", "REASON", "PACKETS"});
    for (const auto& d : s.drops()) {
      drops.AddRow({d.direction(), d.reason(), absl::StrCat(d.packets())});
    }
    std::cout << "\n";
    drops.Print(std::cout);
  }
}

void PrintRates(const std::vector<ContextRate>& rates) {
  Table table({"ID", "DOMAIN", "INTERFACE", "RX", "RX PKT/S", "TX", "TX PKT/S", "DROP/S"});
  for (const ContextRate& r : rates) {
    auto or_dash = [&r](const std::string& text) { return r.known ? text : std::string("-"); };
    table.AddRow({absl::StrCat(r.context_id), absl::StrCat(r.domain_id), r.interface_name,
                  or_dash(FormatBitRate(r.rx_bps)), or_dash(FormatCount(r.rx_pps)),
                  or_dash(FormatBitRate(r.tx_bps)), or_dash(FormatCount(r.tx_pps)),
                  or_dash(FormatCount(r.drops_ps))});
  }
  table.Print(std::cout);
}

// Reads every `interval`, prints rates against the previous reading, refreshing the
// terminal in place. Runs until interrupted (Ctrl-C) or for `iterations` frames.
int RunLive(Session& session, const v1::GetContextStatsRequest& req, const LiveOptions& live,
            bool sort_by_traffic, const std::string& title) {
  const bool tty = isatty(STDOUT_FILENO) != 0;
  v1::GetContextStatsResponse before;
  if (grpc::Status s = Read(session, req, &before); !s.ok()) return session.Refused(s);
  for (long frame = 0; live.iterations == 0 || frame < live.iterations; ++frame) {
    std::this_thread::sleep_for(std::chrono::duration<double>(live.interval));
    v1::GetContextStatsResponse now;
    if (grpc::Status s = Read(session, req, &now); !s.ok()) return session.Refused(s);
    std::vector<ContextRate> rates = ComputeRates(before, now);
    if (sort_by_traffic) SortByTraffic(rates);
    if (tty)
      std::cout << "\033[H\033[2J";  // home and clear: refresh in place
    else if (frame > 0)
      std::cout << "\n";
    std::cout << absl::StrFormat("%s  every %.1fs  %d contexts\n\n", title, live.interval,
                                 now.contexts_size());
    PrintRates(rates);
    std::cout << std::flush;
    before = std::move(now);
  }
  return kExitOk;
}

int Stats(const ParsedArgs& args, Session& session) {
  if (args.positionals.size() > 1) return UsageError("stats", "give at most one CONTEXT");
  LiveOptions live;
  if (auto error = ParseLive(args, &live)) return UsageError("stats", *error);
  const bool watch = args.Has("watch");
  if (!watch && (args.Has("interval") || args.Has("iterations"))) {
    return UsageError("stats", "--interval and --iterations go with --watch");
  }
  const v1::GetContextStatsRequest req = ToRequest(args);
  if (watch) {
    if (session.format() == OutputFormat::kJson) {
      return UsageError("stats", "--watch prints a live table; -o json reads once");
    }
    return RunLive(session, req, live, /*sort_by_traffic=*/false, "vnetctl stats");
  }
  v1::GetContextStatsResponse resp;
  if (grpc::Status s = Read(session, req, &resp); !s.ok()) return session.Refused(s);
  if (session.format() == OutputFormat::kJson) {
    Session::PrintJson(resp);
  } else {
    PrintCounters(resp);
  }
  return kExitOk;
}

int Top(const ParsedArgs& args, Session& session) {
  if (!args.positionals.empty()) return UsageError("top", "top takes no arguments");
  if (session.format() == OutputFormat::kJson) {
    return UsageError("top", "top prints a live table; use 'vnetctl stats -o json'");
  }
  LiveOptions live;
  if (auto error = ParseLive(args, &live)) return UsageError("top", *error);
  return RunLive(session, v1::GetContextStatsRequest(), live, /*sort_by_traffic=*/true,
                 "vnetctl top");
}

std::vector<OptionSpec> LiveOptionSpecs() {
  return {{"interval", "SECONDS", "time between readings (default 1)"},
          {"iterations", "N", "stop after N refreshes (default: until Ctrl-C)"}};
}

}  // namespace

Command StatsCommand() {
  std::vector<OptionSpec> options = {{"watch", "", "show rates per second, refreshed in place"}};
  for (OptionSpec& o : LiveOptionSpecs()) options.push_back(std::move(o));
  return {"stats",     "show a context's (or every context's) traffic counters",
          "[CONTEXT]", options,
          Stats,       {}};
}

Command TopCommand() {
  return {"top", "live per-guest rates, busiest first", "", LiveOptionSpecs(), Top, {}};
}

}  // namespace vnetctl
