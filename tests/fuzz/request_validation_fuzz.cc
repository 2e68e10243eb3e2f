// Serialized infini.v1 requests -> the server's own request validation
// (server/rpc/request_validation.h), as the RPC handlers run it before any session
// or engine is involved. Each check either accepts, giving values within the
// server's limits, or throws ServiceError(INVALID_ARGUMENT) with a message that
// names the field; no other exception and no crash. Bytes that are not a valid
// message are refused by protobuf before validation, as gRPC does.
//
// Input layout (tests/fuzz/README.md):
//   byte 0     the message, modulo 5: 0 a stream of IngestRequest, 1 AskRequest,
//              2 SummarizeRequest, 3 ListSessionsRequest, 4 ForkSessionRequest
//              (GetSession and DeleteSession take the same id check); bit 3
//              (0x08): a vocabulary of 256 instead of 32000
//   the rest   the message's wire bytes; for Ingest, messages one after the
//              other, each a 2-byte little-endian length then its bytes
#include <google/protobuf/stubs/logging.h>

#include <cctype>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "proto/infini/v1/long_context.pb.h"
#include "server/rpc/request_validation.h"
#include "server/status.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

using infini::fuzz::check;
using infini::server::ServiceError;
namespace v1 = infini::v1;

const infini::server::GenerationLimits kLimits{128, 4096};
const std::vector<std::string> kDefaultStop = {"\n"};

// Runs one check: a refusal must be INVALID_ARGUMENT naming `field`.
template <typename Check>
bool accepted(Check&& run, std::string_view field) {
  try {
    run();
    return true;
  } catch (const ServiceError& e) {
    check(e.fault() == infini::server::Fault::kBadRequest, "refusal is not a bad request (INVALID_ARGUMENT)");
    check(std::string_view(e.what()).find(field) != std::string_view::npos,
          "refusal does not name the field");
    return false;
  }
}

void generation(const v1::GenerationParams& params) {
  infini::GenerationRequest r;
  if (!accepted([&] { r = infini::server::generation_request(params, kLimits, kDefaultStop); },
                "params.")) {
    return;
  }
  check(r.max_tokens >= 1 && r.max_tokens <= kLimits.max_tokens, "max_tokens out of bounds");
  check(params.max_tokens() == 0 ? r.max_tokens == kLimits.default_max_tokens
                                 : r.max_tokens == params.max_tokens(),
        "max_tokens not the request's");
  check(std::isfinite(r.sampling.temperature) && r.sampling.temperature >= 0.0f,
        "temperature accepted out of range");
  check(r.sampling.top_k >= 0, "negative top_k accepted");
  check(r.sampling.top_p > 0.0f && r.sampling.top_p <= 1.0f, "top_p accepted out of (0, 1]");
  check(r.sampling.seed == params.seed(), "seed changed");
  check(!r.stop.empty() && r.stop.size() <= static_cast<size_t>(infini::server::kMaxStopStrings),
        "stop list empty or too long");
  for (const auto& s : r.stop) check(!s.empty(), "empty stop string accepted");
  if (params.stop_size() > 0) {
    check(r.stop.size() == static_cast<size_t>(params.stop_size()), "stop strings lost");
  } else {
    check(r.stop == kDefaultStop, "default stop not used");
  }
}

void id(const std::string& session_id) {
  const bool ok =
      accepted([&] { infini::server::require_id(session_id, "session_id"); }, "session_id");
  bool plain = !session_id.empty() && session_id.size() <= 128;
  for (const char c : session_id) {
    plain = plain && (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-');
  }
  check(ok == plain, "id check disagrees with [A-Za-z0-9_-]{1,128}");
}

void ingest(std::string_view bytes, int64_t vocab) {
  bool first = true;
  while (bytes.size() >= 2) {
    const size_t length = static_cast<uint8_t>(bytes[0]) | (static_cast<uint8_t>(bytes[1]) << 8);
    bytes.remove_prefix(2);
    const std::string_view wire = bytes.substr(0, length);
    bytes.remove_prefix(wire.size());
    v1::IngestRequest m;
    if (!m.ParseFromArray(wire.data(), static_cast<int>(wire.size()))) return;  // gRPC refuses it
    auto target = infini::server::IngestTarget::kNone;
    const bool ok =
        accepted([&] { target = infini::server::check_ingest_message(m, first, vocab); }, "");
    if (!ok) return;  // the call ends at the first refused message
    if (first) {
      check(target == infini::server::IngestTarget::kCreate ||
                (target == infini::server::IngestTarget::kSessionId && !m.session_id().empty()),
            "first message accepted without a session");
    } else {
      check(target == infini::server::IngestTarget::kNone &&
                m.target_case() == v1::IngestRequest::TARGET_NOT_SET,
            "a later message accepted with a target");
    }
    for (const int32_t token : m.token_ids().ids()) {
      check(token >= 0 && token < vocab, "token id outside the vocabulary accepted");
    }
    first = false;
  }
}

}  // namespace

// Protobuf logs every string field that is not UTF-8; the refusal is enough.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  google::protobuf::SetLogHandler(nullptr);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const int kind = data[0] % 5;
  const int64_t vocab = (data[0] & 0x08) ? 256 : 32000;
  const std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  const auto parse = [&](google::protobuf::MessageLite& m) {
    return m.ParseFromArray(rest.data(), static_cast<int>(rest.size()));
  };
  switch (kind) {
    case 0:
      ingest(rest, vocab);
      break;
    case 1: {
      v1::AskRequest m;
      if (!parse(m)) break;
      id(m.session_id());
      generation(m.params());
      break;
    }
    case 2: {
      v1::SummarizeRequest m;
      if (!parse(m)) break;
      id(m.session_id());
      generation(m.params());
      break;
    }
    case 3: {
      v1::ListSessionsRequest m;
      if (!parse(m)) break;
      int64_t page = 0;
      if (accepted([&] { page = infini::server::resolve_page_size(m); }, "page_size")) {
        check(page >= 1 && page <= infini::server::kMaxPageSize, "page size out of bounds");
        check(m.page_size() == 0 ? page == infini::server::kDefaultPageSize : page == m.page_size(),
              "page size not the request's");
      }
      break;
    }
    case 4: {
      v1::ForkSessionRequest m;
      if (!parse(m)) break;
      id(m.session_id());
      break;
    }
  }
  return 0;
}
