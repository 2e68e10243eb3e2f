// The snapshot directory: one file per session, `<id>.snap`, replaced
// atomically (write a temporary file, fsync it, rename it over the old one,
// fsync the directory), so a crash at any point leaves either the previous
// snapshot or the new one, never a torn file.
#pragma once

#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace infini::server {

class SnapshotStore {
 public:
  // Creates `dir` if needed; throws std::runtime_error naming it when it
  // cannot be created or is not a directory.
  explicit SnapshotStore(std::filesystem::path dir);

  // Throws std::runtime_error with the path and the system's reason (disk
  // full, permission) when the snapshot cannot be made durable. A failure
  // before the rename leaves the previous snapshot of `session_id` untouched;
  // one after it (the directory's fsync) leaves the new file in place, maybe
  // not yet durable.
  void write(const std::string& session_id, std::string_view bytes) const;
  // Removes `session_id`'s snapshot if there is one; errors are reported, not thrown.
  bool remove(const std::string& session_id) const;

  // Every `*.snap` file, in name order (temporary files are skipped).
  std::vector<std::filesystem::path> list() const;
  // A file's whole contents; throws std::runtime_error naming it.
  static std::string read(const std::filesystem::path& path);

  const std::filesystem::path& dir() const { return dir_; }
  std::filesystem::path path_of(const std::string& session_id) const;

 private:
  std::filesystem::path dir_;
};

}  // namespace infini::server
