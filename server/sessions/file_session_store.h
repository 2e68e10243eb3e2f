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

#include "server/sessions/session_store.h"

namespace infini::server {

class FileSessionStore : public SessionStore {
 public:
  // Creates `dir` if needed; throws std::runtime_error naming it when it
  // cannot be created or is not a directory.
  explicit FileSessionStore(std::filesystem::path dir);

  // Throws std::runtime_error with the path and the system's reason (disk
  // full, permission) when the snapshot cannot be made durable. A failure
  // before the rename leaves the previous snapshot of `session_id` untouched;
  // one after it (the directory's fsync) leaves the new file in place, maybe
  // not yet durable.
  void write(const std::string& session_id, std::string_view bytes) const override;
  std::string read(const std::string& session_id) const override;
  // Removes `session_id`'s snapshot if there is one; errors are reported, not thrown.
  bool remove(const std::string& session_id) const override;
  // The ids of list()'s files.
  std::vector<std::string> ids() const override;
  std::string location(const std::string& session_id) const override;
  std::string location() const override;

  // Every `*.snap` file, in name order (temporary files are skipped).
  std::vector<std::filesystem::path> list() const;
  // A file's whole contents; throws std::runtime_error naming it.
  static std::string read_file(const std::filesystem::path& path);

  const std::filesystem::path& dir() const { return dir_; }
  std::filesystem::path path_of(const std::string& session_id) const;

 private:
  std::filesystem::path dir_;
};

}  // namespace infini::server
