#include "client/progress.h"

#include <algorithm>
#include <cmath>

namespace infini::client {

std::string format_bytes(double bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int unit = 0;
  while (std::fabs(bytes) >= 1024.0 && unit < 4) bytes /= 1024.0, ++unit;
  char buf[32];
  std::snprintf(buf, sizeof buf, unit == 0 ? "%.0f %s" : "%.1f %s", bytes, units[unit]);
  return buf;
}

std::string format_count(int64_t count) {
  std::string digits = std::to_string(count < 0 ? -count : count);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return count < 0 ? "-" + out : out;
}

std::string format_seconds(double seconds) {
  char buf[32];
  if (seconds < 10.0) {
    std::snprintf(buf, sizeof buf, "%.3f s", seconds);
  } else if (seconds < 60.0) {
    std::snprintf(buf, sizeof buf, "%.1f s", seconds);
  } else {
    const auto whole = static_cast<int64_t>(seconds);
    std::snprintf(buf, sizeof buf, "%lldm%02llds", static_cast<long long>(whole / 60),
                  static_cast<long long>(whole % 60));
  }
  return buf;
}

TransferProgress::TransferProgress(std::FILE* out, bool draw)
    : out_(out), start_(std::chrono::steady_clock::now()) {
  if (!draw) return;
  ticker_ = std::thread([this] {
    std::unique_lock lock(mu_);
    while (!stopping_) {
      if (updated_) draw_locked();
      wake_.wait_for(lock, std::chrono::milliseconds(200), [this] { return stopping_; });
    }
  });
}

TransferProgress::~TransferProgress() { abandon(); }

double TransferProgress::seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

void TransferProgress::update(int64_t bytes, std::optional<int64_t> total, bool all_sent) {
  std::lock_guard lock(mu_);
  updated_ = true;
  bytes_ = bytes;
  total_ = total;
  if (all_sent && !all_sent_at_) {
    all_sent_at_ = seconds();
    // Show the change to "waiting" now rather than at the next tick.
    if (ticker_.joinable()) draw_locked();
  }
}

void TransferProgress::draw_locked() {
  const double now = seconds();
  const double sending = std::max(all_sent_at_.value_or(now), 1e-9);
  std::string line;
  if (total_ && *total_ > 0) {
    constexpr int kWidth = 28;
    const double fraction = std::clamp(static_cast<double>(bytes_) / *total_, 0.0, 1.0);
    const int filled = static_cast<int>(fraction * kWidth);
    line.assign(1, '[');
    line.append(filled, '#').append(kWidth - filled, '-').append("] ");
    char percent[16];
    std::snprintf(percent, sizeof percent, "%3d%%  ", static_cast<int>(fraction * 100));
    line += percent + format_bytes(static_cast<double>(bytes_)) + " / " +
            format_bytes(static_cast<double>(*total_));
  } else {
    line = format_bytes(static_cast<double>(bytes_));
  }
  line += "  " + format_bytes(bytes_ / sending) + "/s";
  if (all_sent_at_) line += "  all sent, waiting for the server: " + format_seconds(now - sending);
  const size_t width = line.size();
  if (width < last_width_) line.append(last_width_ - width, ' ');
  last_width_ = width;
  std::fprintf(out_, "\r%s", line.c_str());
  std::fflush(out_);
  drawn_ = true;
}

void TransferProgress::clear_locked() {
  if (!drawn_) return;
  std::fprintf(out_, "\r%s\r", std::string(last_width_, ' ').c_str());
  drawn_ = false;
}

void TransferProgress::stop_ticker() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (ticker_.joinable()) ticker_.join();
}

void TransferProgress::finish(const std::string& summary) {
  stop_ticker();
  std::lock_guard lock(mu_);
  clear_locked();
  std::fprintf(out_, "%s\n", summary.c_str());
  std::fflush(out_);
}

void TransferProgress::abandon() {
  stop_ticker();
  std::lock_guard lock(mu_);
  clear_locked();
  std::fflush(out_);
}

}  // namespace infini::client
