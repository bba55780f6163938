#include "tests/fuzz/service_harness.h"

#include <stdlib.h>

#include <cstdio>
#include <filesystem>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "google/protobuf/util/message_differencer.h"

namespace vnet::fuzz {
namespace {

// Every call gets this long; a call still open then ends DEADLINE_EXCEEDED (allowed).
constexpr auto kCallTimeout = std::chrono::seconds(5);

std::chrono::system_clock::time_point Deadline() {
  return std::chrono::system_clock::now() + kCallTimeout;
}

grpc::ByteBuffer ToByteBuffer(const std::string& bytes) {
  grpc::Slice slice(bytes.data(), bytes.size());
  return grpc::ByteBuffer(&slice, 1);
}

std::string FromByteBuffer(const grpc::ByteBuffer& buffer) {
  std::vector<grpc::Slice> slices;
  std::string out;
  if (!buffer.Dump(&slices).ok()) return out;
  for (const grpc::Slice& s : slices)
    out.append(reinterpret_cast<const char*>(s.begin()), s.size());
  return out;
}

// A streaming call with one request message, read until the server ends it.
class OneRequestStream final : public grpc::ClientBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer> {
 public:
  OneRequestStream(grpc::GenericStub* stub, const std::string& method, const std::string& request,
                   std::vector<std::string>* responses)
      : request_(ToByteBuffer(request)), responses_(responses) {
    context_.set_deadline(Deadline());
    stub->PrepareBidiStreamingCall(&context_, method, grpc::StubOptions(), this);
    StartWriteLast(&request_, grpc::WriteOptions());
    StartRead(&response_);
    StartCall();
  }
  void OnReadDone(bool ok) override {
    if (!ok) return;
    if (responses_ != nullptr) responses_->push_back(FromByteBuffer(response_));
    StartRead(&response_);
  }
  void OnDone(const grpc::Status& status) override {
    status_ = status;
    done_.Notify();
  }
  grpc::Status Wait() {
    done_.WaitForNotification();
    return status_;
  }

 private:
  grpc::ClientContext context_;
  grpc::ByteBuffer request_;
  grpc::ByteBuffer response_;
  std::vector<std::string>* responses_;
  grpc::Status status_;
  absl::Notification done_;
};

std::string MakeTempDir() {
  // tmpfs when there is one: the daemon fsyncs every change, and the fuzzer makes many.
  const char* base = std::filesystem::is_directory("/dev/shm") ? "/dev/shm" : "/tmp";
  std::string path = absl::StrCat(base, "/vnet-service-fuzz-XXXXXX");
  if (mkdtemp(path.data()) == nullptr) {
    std::perror("service fuzz: mkdtemp");
    std::abort();
  }
  return path;
}

std::string Describe(const google::protobuf::Message& m) { return m.ShortDebugString(); }

}  // namespace

bool IsUnhandledError(grpc::StatusCode code) {
  return code == grpc::StatusCode::UNKNOWN || code == grpc::StatusCode::INTERNAL ||
         code == grpc::StatusCode::DATA_LOSS || code == grpc::StatusCode::UNIMPLEMENTED;
}

ServiceHarness::ServiceHarness() : dir_(MakeTempDir()) {
  config_.set_unix_socket(dir_ + "/vnetd.sock");
  config_.set_state_dir(dir_ + "/state");
  config_.set_capacity(kCapacity);
  config_.set_metrics_address("");  // off: nothing listens on TCP
  config_.set_fast_path("none");
  StartServer();
}

ServiceHarness::~ServiceHarness() {
  contexts_.reset();
  buffers_.reset();
  generic_.reset();
  channel_.reset();
  if (server_ != nullptr) (void)server_->Shutdown();
  server_.reset();
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

void ServiceHarness::StartServer() {
  auto server = VnetServer::Start(config_, &dataplane_);
  if (!server.ok()) {
    std::fprintf(stderr, "service fuzz: vnetd did not start: %s\n",
                 server.status().ToString().c_str());
    std::abort();
  }
  server_ = std::move(*server);
  channel_ =
      grpc::CreateChannel("unix:" + config_.unix_socket(), grpc::InsecureChannelCredentials());
  generic_ = std::make_unique<grpc::GenericStub>(channel_);
  contexts_ = v1::ContextService::NewStub(channel_);
  buffers_ = v1::BufferService::NewStub(channel_);
}

grpc::Status ServiceHarness::Call(const std::string& method, bool streaming,
                                  const std::string& request, std::vector<std::string>* responses) {
  if (streaming) {
    OneRequestStream stream(generic_.get(), method, request, responses);
    return stream.Wait();
  }
  grpc::ClientContext context;
  context.set_deadline(Deadline());
  grpc::ByteBuffer request_bytes = ToByteBuffer(request);
  grpc::ByteBuffer response;
  grpc::Status status;
  absl::Notification done;
  generic_->UnaryCall(&context, method, grpc::StubOptions(), &request_bytes, &response,
                      [&](grpc::Status s) {
                        status = std::move(s);
                        done.Notify();
                      });
  done.WaitForNotification();
  if (status.ok() && responses != nullptr) responses->push_back(FromByteBuffer(response));
  return status;
}

std::string ServiceHarness::TakeSnapshot(Snapshot* out) {
  *out = Snapshot();
  // Contexts, a page of 2 at a time: ids strictly increasing across pages, all within the
  // capacity, and each one read back alone equal to its listed form.
  std::string token;
  int pages = 0;
  do {
    v1::ListContextsRequest req;
    req.set_page_size(2);
    req.set_page_token(token);
    v1::ListContextsResponse resp;
    grpc::ClientContext context;
    context.set_deadline(Deadline());
    if (auto s = contexts_->ListContexts(&context, req, &resp); !s.ok()) {
      return absl::StrCat("ListContexts: ", s.error_message());
    }
    if (resp.capacity() != kCapacity) return absl::StrCat("capacity ", resp.capacity());
    for (const v1::Context& c : resp.contexts()) {
      if (c.id() == 0 || c.id() > kCapacity) return absl::StrCat("context id ", c.id());
      if (!out->contexts.empty() && c.id() <= out->contexts.back().id()) {
        return absl::StrCat("ListContexts out of order at id ", c.id());
      }
      out->contexts.push_back(c);
    }
    token = resp.next_page_token();
    if (++pages > static_cast<int>(kCapacity) + 2) return "ListContexts pages never end";
  } while (!token.empty());
  for (const v1::Context& c : out->contexts) {
    v1::GetContextRequest req;
    req.mutable_ref()->set_id(c.id());
    v1::Context got;
    grpc::ClientContext context;
    context.set_deadline(Deadline());
    if (auto s = contexts_->GetContext(&context, req, &got); !s.ok()) {
      return absl::StrCat("GetContext ", c.id(), " (listed): ", s.error_message());
    }
    if (!google::protobuf::util::MessageDifferencer::Equals(got, c)) {
      return absl::StrCat("GetContext ", c.id(), " differs from List: ", Describe(got), " vs ",
                          Describe(c));
    }
  }
  // Regions: only of contexts that exist, and each context's in-flight total is the sum of
  // its regions'.
  std::set<uint32_t> ids;
  for (const v1::Context& c : out->contexts) ids.insert(c.id());
  token.clear();
  pages = 0;
  do {
    v1::ListRegionsRequest req;
    req.set_page_size(3);
    req.set_page_token(token);
    v1::ListRegionsResponse resp;
    grpc::ClientContext context;
    context.set_deadline(Deadline());
    if (auto s = buffers_->ListRegions(&context, req, &resp); !s.ok()) {
      return absl::StrCat("ListRegions: ", s.error_message());
    }
    for (const v1::ContextRegions& r : resp.contexts()) {
      if (ids.count(r.context_id()) == 0) {
        return absl::StrCat("regions of context ", r.context_id(), ", which does not exist");
      }
      out->regions.push_back(r);
    }
    token = resp.next_page_token();
    if (++pages > 10000) return "ListRegions pages never end";
  } while (!token.empty());
  // A context's regions may span pages: sum per context over all of them.
  std::map<uint32_t, std::pair<uint64_t, uint64_t>> in_flight;  // id -> (sum, reported)
  for (const v1::ContextRegions& r : out->regions) {
    auto& [sum, reported] = in_flight[r.context_id()];
    for (const v1::Region& region : r.regions()) sum += region.in_flight();
    reported = r.in_flight();
  }
  for (const auto& [id, figures] : in_flight) {
    if (figures.first != figures.second) {
      return absl::StrCat("context ", id, ": regions hold ", figures.first,
                          " descriptors in flight, the context reports ", figures.second);
    }
  }
  return "";
}

std::string ServiceHarness::Reset() {
  Snapshot now;
  if (std::string error = TakeSnapshot(&now); !error.empty()) return error;
  for (const v1::Context& c : now.contexts) {
    v1::ReleaseContextRequest req;
    req.mutable_ref()->set_id(c.id());
    req.mutable_force_wait()->set_nanos(1);
    v1::ReleaseContextResponse resp;
    grpc::ClientContext context;
    context.set_deadline(Deadline());
    if (auto s = contexts_->ReleaseContext(&context, req, &resp); !s.ok()) {
      return absl::StrCat("forced release of context ", c.id(), ": ", s.error_message());
    }
  }
  if (std::string error = TakeSnapshot(&now); !error.empty()) return error;
  if (!now.contexts.empty() || !now.regions.empty()) {
    return absl::StrCat("after releasing every context ", now.contexts.size(),
                        " contexts and regions of ", now.regions.size(), " remain");
  }
  return "";
}

std::string ServiceHarness::RestartAndCompare() {
  Snapshot before;
  if (std::string error = TakeSnapshot(&before); !error.empty()) return error;
  contexts_.reset();
  buffers_.reset();
  generic_.reset();
  channel_.reset();
  if (auto s = server_->Shutdown(); !s.ok()) return absl::StrCat("shutdown: ", s.ToString());
  server_.reset();
  StartServer();
  Snapshot after;
  if (std::string error = TakeSnapshot(&after); !error.empty()) {
    return absl::StrCat("after a restart: ", error);
  }
  if (before.contexts.size() != after.contexts.size()) {
    return absl::StrCat(before.contexts.size(), " contexts before a restart, ",
                        after.contexts.size(), " after");
  }
  for (size_t i = 0; i < before.contexts.size(); ++i) {
    if (!google::protobuf::util::MessageDifferencer::Equals(before.contexts[i],
                                                            after.contexts[i])) {
      return absl::StrCat("a restart changed context ", Describe(before.contexts[i]), " into ",
                          Describe(after.contexts[i]));
    }
  }
  if (before.regions.size() != after.regions.size()) return "a restart changed the regions";
  for (size_t i = 0; i < before.regions.size(); ++i) {
    if (!google::protobuf::util::MessageDifferencer::Equals(before.regions[i], after.regions[i])) {
      return absl::StrCat("a restart changed regions ", Describe(before.regions[i]), " into ",
                          Describe(after.regions[i]));
    }
  }
  return "";
}

}  // namespace vnet::fuzz
