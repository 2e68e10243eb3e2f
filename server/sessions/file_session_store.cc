#include "server/sessions/file_session_store.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>

#include "server/sessions/session_id.h"
#include "server/sessions/session_logger.h"

namespace infini::server {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kSuffix = ".snap";
// Every id is checked here so that none can name a path outside the
// directory or overflow NAME_MAX with the temporary file's suffix.
void check_id(const std::string& id) {
  if (id.empty() || id.size() > kMaxSessionIdBytes) {
    throw std::invalid_argument("session id must be 1.." + std::to_string(kMaxSessionIdBytes) +
                                " characters, got " + std::to_string(id.size()));
  }
  if (!is_valid_session_id(id)) {
    throw std::invalid_argument("session id may hold only [A-Za-z0-9_-]");
  }
}

// Makes the directory's entries (a rename, an unlink) durable. Returns 0 or
// an errno value.
int fsync_directory(const fs::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return errno;
  int err = 0;
  while (::fsync(fd) != 0) {
    if (errno != EINTR) {
      err = errno;
      break;
    }
  }
  ::close(fd);
  return err;
}

// Unique temporary names within this process for concurrent writers of the
// same id; the pid separates processes sharing the directory.
std::atomic<uint64_t> temp_counter{0};

}  // namespace

FileSessionStore::FileSessionStore(std::filesystem::path dir) : dir_(std::move(dir)) {
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) {
    throw std::runtime_error("cannot create snapshot directory " + dir_.string() + ": " +
                             ec.message());
  }
  if (!fs::is_directory(dir_, ec)) {
    throw std::runtime_error("snapshot directory " + dir_.string() + " is not a directory" +
                             (ec ? ": " + ec.message() : std::string()));
  }
}

fs::path FileSessionStore::path_of(const std::string& session_id) const {
  check_id(session_id);
  return dir_ / (session_id + std::string(kSuffix));
}

void FileSessionStore::write(const std::string& session_id, std::string_view bytes) const {
  const fs::path target = path_of(session_id);
  const fs::path temp =
      dir_ / ("." + session_id + std::string(kSuffix) + ".tmp-" + std::to_string(::getpid()) + "-" +
              std::to_string(temp_counter.fetch_add(1, std::memory_order_relaxed)));

  int fd = -1;
  // Everything before the rename leaves the previous snapshot as it was;
  // the temporary file is removed on the way out.
  auto fail = [&](int err, const char* step) {
    if (fd >= 0) ::close(fd);
    ::unlink(temp.c_str());
    throw std::runtime_error("cannot write snapshot " + target.string() + ": " +
                             std::strerror(err) + " (" + step + ")");
  };

  fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    const int err = errno;
    throw std::runtime_error("cannot write snapshot " + target.string() + ": " +
                             std::strerror(err) + " (creating " + temp.string() + ")");
  }
  const char* at = bytes.data();
  size_t left = bytes.size();
  while (left > 0) {
    const ssize_t n = ::write(fd, at, std::min<size_t>(left, size_t{1} << 30));
    if (n < 0) {
      if (errno == EINTR) continue;
      fail(errno, "write");
    }
    at += n;
    left -= static_cast<size_t>(n);
  }
  while (::fsync(fd) != 0) {
    if (errno != EINTR) fail(errno, "fsync");
  }
  // Linux closes the descriptor even when close() reports EINTR, and the
  // data is already on disk after fsync: only other errors count.
  const int closed = ::close(fd);
  const int close_errno = errno;
  fd = -1;
  if (closed != 0 && close_errno != EINTR) fail(close_errno, "close");
  if (::rename(temp.c_str(), target.c_str()) != 0) fail(errno, "rename");
  // The new snapshot is in place; without the directory's fsync a crash
  // could still bring back the previous one, so this is reported too.
  if (const int err = fsync_directory(dir_); err != 0) {
    throw std::runtime_error("cannot write snapshot " + target.string() + ": " +
                             std::strerror(err) + " (fsync of the directory)");
  }
}

bool FileSessionStore::remove(const std::string& session_id) const {
  fs::path target;
  try {
    target = path_of(session_id);
  } catch (const std::invalid_argument& e) {
    // No snapshot can exist under an id write() refuses.
    session_logger()->warn("not removing a snapshot: {}", e.what());
    return false;
  }
  if (::unlink(target.c_str()) != 0) {
    if (errno != ENOENT) {
      session_logger()->warn("cannot remove snapshot {}: {}", target.string(),
                             std::strerror(errno));
    }
    return false;
  }
  // Otherwise a crash could bring the session back on the next start.
  if (const int err = fsync_directory(dir_); err != 0) {
    session_logger()->warn("cannot fsync snapshot directory {} after a removal: {}", dir_.string(),
                           std::strerror(err));
  }
  return true;
}

std::vector<fs::path> FileSessionStore::list() const {
  std::vector<fs::path> out;
  std::error_code ec;
  fs::directory_iterator it(dir_, ec);
  for (; !ec && it != fs::directory_iterator(); it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.size() <= kSuffix.size() || name.front() == '.' || !name.ends_with(kSuffix)) continue;
    // symlink_status: a link is not a snapshot this store wrote.
    std::error_code type_ec;
    if (!fs::is_regular_file(it->symlink_status(type_ec)) || type_ec) continue;
    out.push_back(it->path());
  }
  if (ec) {
    throw std::runtime_error("cannot list snapshot directory " + dir_.string() + ": " +
                             ec.message());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string FileSessionStore::read_file(const fs::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    throw std::runtime_error("cannot read snapshot " + path.string() + ": " + std::strerror(errno));
  }
  std::string out;
  struct stat st {};
  if (::fstat(fd, &st) == 0 && st.st_size > 0) out.reserve(static_cast<size_t>(st.st_size));
  char block[1 << 16];
  for (;;) {
    const ssize_t n = ::read(fd, block, sizeof(block));
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      throw std::runtime_error("cannot read snapshot " + path.string() + ": " + std::strerror(err));
    }
    out.append(block, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

std::string FileSessionStore::read(const std::string& session_id) const {
  return read_file(path_of(session_id));
}

std::vector<std::string> FileSessionStore::ids() const {
  std::vector<std::string> out;
  for (const auto& path : list()) out.push_back(path.stem().string());
  return out;
}

std::string FileSessionStore::location(const std::string& session_id) const {
  return path_of(session_id).string();
}

std::string FileSessionStore::location() const { return dir_.string(); }

}  // namespace infini::server
