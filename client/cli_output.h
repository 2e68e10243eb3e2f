// How infini-client writes what the server returns: sessions as a table, as
// details or as JSON, and the numbers of a usage line. Text for a person goes
// through the format_* functions (progress.h has the units shared with the
// progress line); --json output is the proto's own JSON mapping, so scripts
// see the API's field names.
#pragma once

#include <google/protobuf/map.h>
#include <google/protobuf/message.h>
#include <google/protobuf/timestamp.pb.h>

#include <cstdio>
#include <string>
#include <vector>

#include "proto/infini/v1/long_context.pb.h"

namespace infini::client::cli {

// Whether `file` is a terminal: a terminal gets a progress bar and an answer
// ending in a newline; a pipe gets the bytes exactly.
bool is_terminal(std::FILE* file);

// "12.3x", "250x".
std::string format_ratio(double ratio);
// count / seconds to one decimal, "-" without a duration.
std::string format_rate(double count, double seconds);
// "2026-01-02T03:04:05Z" (UTC), "-" when unset.
std::string format_time(const google::protobuf::Timestamp& timestamp);
// "k1=v1,k2=v2" sorted by key, "-" when there are none.
std::string format_labels(const google::protobuf::Map<std::string, std::string>& labels);
// "length", "stop", "end_of_text", "cancelled", "unspecified".
const char* finish_reason_name(infini::v1::FinishReason reason);

// `message` as indented JSON on stdout, every field present (zeros too) under
// its proto name. Throws LocalError when it cannot be converted.
void print_json(const google::protobuf::Message& message);
// One line per session under a header: id, tokens, segments, state bytes,
// compression ratio, last used, labels.
void print_session_table(const std::vector<infini::v1::Session>& sessions);
// Every field of one session, one per line.
void print_session(const infini::v1::Session& s);

}  // namespace infini::client::cli
