// vnetctl region list [CONTEXT]
#include "cli/region_command.h"

#include <iostream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "cli/table.h"
#include "vnet/v1/buffer.grpc.pb.h"
#include "vnet/v1/context.grpc.pb.h"

namespace vnetctl {
namespace {

namespace v1 = vnet::v1;

std::string FormatAccess(v1::RegionAccess access) {
  switch (access) {
    case v1::REGION_ACCESS_READ_ONLY:
      return "ro";
    case v1::REGION_ACCESS_READ_WRITE:
      return "rw";
    default:
      return "?";
  }
}

// 4096 -> 4K, 2097152 -> 2M; exact multiples only, bytes otherwise.
std::string FormatBytes(uint64_t bytes) {
  static const std::pair<uint64_t, const char*> kUnits[] = {
      {uint64_t{1} << 40, "T"}, {1 << 30, "G"}, {1 << 20, "M"}, {1 << 10, "K"}};
  for (const auto& [unit, suffix] : kUnits) {
    if (bytes >= unit && bytes % unit == 0) return absl::StrCat(bytes / unit, suffix);
  }
  return absl::StrCat(bytes);
}

// CONTEXT is an id, or an interface name resolved through the context service.
grpc::Status ResolveContext(Session& session, const std::string& text, uint32_t* id) {
  if (absl::SimpleAtoi(text, id)) return grpc::Status::OK;
  v1::GetContextRequest req;
  req.mutable_ref()->set_interface_name(text);
  v1::Context ctx;
  auto call = session.NewCall();
  grpc::Status status =
      v1::ContextService::NewStub(session.channel())->GetContext(call.get(), req, &ctx);
  *id = ctx.id();
  return status;
}

int List(const ParsedArgs& args, Session& session) {
  if (args.positionals.size() > 1) return UsageError("region list", "give at most one CONTEXT");
  v1::ListRegionsRequest req;
  if (!args.positionals.empty()) {
    uint32_t id = 0;
    grpc::Status status = ResolveContext(session, args.positionals[0], &id);
    if (!status.ok()) return session.Refused(status);
    req.set_context_id(id);
  }
  // Page by page; a context whose regions span pages comes back as one entry.
  v1::ListRegionsResponse resp;
  auto stub = v1::BufferService::NewStub(session.channel());
  do {
    v1::ListRegionsResponse page;
    auto call = session.NewCall();
    grpc::Status status = stub->ListRegions(call.get(), req, &page);
    if (!status.ok()) return session.Refused(status);
    req.set_page_token(page.next_page_token());
    MergeRegionPage(page, &resp);
  } while (!req.page_token().empty());
  if (session.format() == OutputFormat::kJson) {
    Session::PrintJson(resp);
  } else {
    RegionTable(resp).Print(std::cout);
  }
  return kExitOk;
}

}  // namespace

void MergeRegionPage(const v1::ListRegionsResponse& page, v1::ListRegionsResponse* all) {
  for (const v1::ContextRegions& ctx : page.contexts()) {
    const int n = all->contexts_size();
    if (n > 0 && all->contexts(n - 1).context_id() == ctx.context_id()) {
      v1::ContextRegions* last = all->mutable_contexts(n - 1);
      last->mutable_regions()->MergeFrom(ctx.regions());
      // Totals: the latest page's view.
      last->set_bytes_registered(ctx.bytes_registered());
      last->set_in_flight(ctx.in_flight());
    } else {
      *all->add_contexts() = ctx;
    }
  }
}

Table RegionTable(const v1::ListRegionsResponse& resp) {
  Table table({"CONTEXT", "REGION", "ADDRESS", "LENGTH", "PAGE", "ACCESS", "GRANTS", "IN-FLIGHT"});
  for (const v1::ContextRegions& ctx : resp.contexts()) {
    if (ctx.regions().empty()) {
      table.AddRow({absl::StrCat(ctx.context_id()), "-", "-", "-", "-", "-", "-", "0"});
    }
    for (const v1::Region& r : ctx.regions()) {
      table.AddRow({absl::StrCat(ctx.context_id()), absl::StrCat(r.region_id()),
                    absl::StrFormat("%#x", r.guest_address()), FormatBytes(r.length()),
                    FormatBytes(r.page_size()), FormatAccess(r.access()),
                    absl::StrCat(r.grant_refs_size()), absl::StrCat(r.in_flight())});
    }
  }
  return table;
}

Command RegionCommand() {
  Command group{"region", "guest memory regions of the buffer ledger", "", {}, nullptr, {}};
  group.subcommands = {{"list",
                        "list regions and descriptors in flight (one context, or all)",
                        "[CONTEXT]",
                        {},
                        List,
                        {}}};
  return group;
}

}  // namespace vnetctl
