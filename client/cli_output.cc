#include "client/cli_output.h"

#include <google/protobuf/util/json_util.h>
#include <unistd.h>

#include <algorithm>
#include <ctime>
#include <map>

#include "client/cli_errors.h"
#include "client/progress.h"

namespace infini::client::cli {

bool is_terminal(std::FILE* file) { return ::isatty(::fileno(file)) == 1; }

std::string format_ratio(double ratio) {
  char buf[32];
  std::snprintf(buf, sizeof buf, ratio >= 100 ? "%.0fx" : "%.1fx", ratio);
  return buf;
}

std::string format_rate(double count, double seconds) {
  if (seconds <= 0) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", count / seconds);
  return buf;
}

std::string format_time(const google::protobuf::Timestamp& timestamp) {
  if (timestamp.seconds() == 0 && timestamp.nanos() == 0) return "-";
  const std::time_t seconds = static_cast<std::time_t>(timestamp.seconds());
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return buf;
}

std::string format_labels(const google::protobuf::Map<std::string, std::string>& labels) {
  // Map order is unspecified; sort for a stable listing.
  const std::map<std::string, std::string> sorted(labels.begin(), labels.end());
  std::string out;
  for (const auto& [key, value] : sorted) out += (out.empty() ? "" : ",") + key + "=" + value;
  return out.empty() ? "-" : out;
}

const char* finish_reason_name(infini::v1::FinishReason reason) {
  switch (reason) {
    case infini::v1::FINISH_REASON_LENGTH:
      return "length";
    case infini::v1::FINISH_REASON_STOP:
      return "stop";
    case infini::v1::FINISH_REASON_END_OF_TEXT:
      return "end_of_text";
    case infini::v1::FINISH_REASON_CANCELLED:
      return "cancelled";
    default:
      return "unspecified";
  }
}

void print_json(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.always_print_primitive_fields = true;
  options.preserve_proto_field_names = true;
  std::string json;
  if (!google::protobuf::util::MessageToJsonString(message, &json, options).ok()) {
    throw LocalError("cannot write the response as JSON");
  }
  std::fputs(json.c_str(), stdout);
  if (json.empty() || json.back() != '\n') std::fputc('\n', stdout);
}

void print_session_table(const std::vector<infini::v1::Session>& sessions) {
  struct Row {
    std::string cells[7];
  };
  std::vector<Row> rows;
  rows.push_back({{"ID", "TOKENS", "SEGMENTS", "STATE", "RATIO", "LAST USED", "LABELS"}});
  for (const auto& s : sessions) {
    rows.push_back({{s.id(), infini::client::format_count(s.tokens()),
                     infini::client::format_count(s.segments()),
                     infini::client::format_bytes(static_cast<double>(s.state_bytes())),
                     format_ratio(s.compression_ratio()), format_time(s.last_used_at()),
                     format_labels(s.labels())}});
  }
  size_t width[7] = {};
  for (const auto& row : rows) {
    for (int c = 0; c < 7; ++c) width[c] = std::max(width[c], row.cells[c].size());
  }
  for (const auto& row : rows) {
    std::string line;
    for (int c = 0; c < 7; ++c) {
      const std::string& cell = row.cells[c];
      const std::string pad(width[c] - cell.size(), ' ');
      // Numbers right-aligned, text left-aligned; the last column unpadded.
      const bool numeric = c >= 1 && c <= 4;
      if (c == 6) {
        line += cell;
      } else {
        line += numeric ? pad + cell : cell + pad;
        line += "  ";
      }
    }
    std::printf("%s\n", line.c_str());
  }
}

void print_session(const infini::v1::Session& s) {
  using infini::client::format_bytes;
  using infini::client::format_count;
  std::printf("id:                  %s\n", s.id().c_str());
  std::printf("model:               %s\n", s.model().c_str());
  std::printf("tokens:              %s\n", format_count(s.tokens()).c_str());
  std::printf("segments:            %s\n", format_count(s.segments()).c_str());
  std::printf("pending text bytes:  %s\n", format_count(s.pending_text_bytes()).c_str());
  std::printf("state bytes:         %s (%s)\n", format_count(s.state_bytes()).c_str(),
              format_bytes(static_cast<double>(s.state_bytes())).c_str());
  std::printf("kv equivalent bytes: %s (%s)\n", format_count(s.kv_equivalent_bytes()).c_str(),
              format_bytes(static_cast<double>(s.kv_equivalent_bytes())).c_str());
  std::printf("compression ratio:   %s\n", format_ratio(s.compression_ratio()).c_str());
  std::printf("created at:          %s\n", format_time(s.created_at()).c_str());
  std::printf("last used at:        %s\n", format_time(s.last_used_at()).c_str());
  std::printf("labels:              %s\n", format_labels(s.labels()).c_str());
  std::printf("in memory:           %s\n",
              s.evicted() ? "no (evicted to disk; reloaded on next use)" : "yes");
}

}  // namespace infini::client::cli
