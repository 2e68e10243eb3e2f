// How infini-client shows a transfer on a terminal: a progress line redrawn
// in place on stderr, and the units it is written in.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

namespace infini::client {

// "512 B", "12.3 MiB".
std::string format_bytes(double bytes);
// "1,234,567".
std::string format_count(int64_t count);
// "0.123 s", "12.3 s", "4m05s".
std::string format_seconds(double seconds);

// A line redrawn with '\r' as bytes go out: the bytes sent, the total and a
// bar when the size is known, and the send rate. The server reports tokens
// only when the call ends, and may buffer megabytes before it reads them, so
// once everything is sent the line counts the wait for the server instead.
// The line is redrawn from its own thread every 200 ms, so that it moves
// while the caller is blocked in the call.
class TransferProgress {
 public:
  // `draw`: redraw the line (for a terminal); off, nothing is drawn until
  // finish().
  TransferProgress(std::FILE* out, bool draw);
  ~TransferProgress();
  TransferProgress(const TransferProgress&) = delete;
  TransferProgress& operator=(const TransferProgress&) = delete;

  // `all_sent`: this was the last chunk.
  void update(int64_t bytes, std::optional<int64_t> total, bool all_sent);
  // Replaces the line with `summary` (printed whether or not drawing is on).
  void finish(const std::string& summary);
  // Clears the line without a summary (the call failed).
  void abandon();
  double seconds() const;

 private:
  void stop_ticker();
  void draw_locked();
  void clear_locked();

  std::FILE* out_;
  const std::chrono::steady_clock::time_point start_;
  std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;
  bool updated_ = false;  // nothing to draw before the first chunk
  int64_t bytes_ = 0;
  std::optional<int64_t> total_;
  std::optional<double> all_sent_at_;  // seconds from the start
  bool drawn_ = false;
  size_t last_width_ = 0;
  std::thread ticker_;
};

}  // namespace infini::client
