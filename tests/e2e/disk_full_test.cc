// Disk full, with the real server: the Ingest whose snapshot cannot be
// written fails with a status naming the snapshot and the system's reason,
// the previous snapshot stays intact (a restart restores the last good state
// and answers as before), and once there is room again the next Ingest
// writes its snapshot.
//
// The snapshot directory is on a real full filesystem where this process may
// mount one: a 1 MiB tmpfs, in a mount namespace of this thread's own
// (unshare(CLONE_NEWNS)) so nothing is left mounted if the test dies, filled
// to its last page by a file. Where mounting is not allowed (no
// CAP_SYS_ADMIN, as in most CI containers), the server is started with
// RLIMIT_FSIZE below a snapshot's size, so its write fails for real with
// EFBIG; that needs the server to ignore SIGXFSZ, which it does. The output
// says which of the two ran; INFINI_DISK_FULL=rlimit forces the second.
#include <sched.h>
#include <sys/mount.h>
#include <sys/resource.h>

#include "tests/e2e/e2e_support.h"

namespace infini::e2e {
namespace {

using client::ClientError;
using client::GenerationParams;
using client::InfiniClient;
using client::IngestOptions;

GenerationParams greedy(int32_t max_tokens) {
  GenerationParams p;
  p.max_tokens = max_tokens;
  p.stop = {kNeverStop};
  return p;
}

// Where snapshots go, and how that place is made full and given room again.
class FullableDisk {
 public:
  FullableDisk() : base_("infini-e2e-disk") {
    mount_point_ = base_.path() / "fs";
    fs::create_directories(mount_point_);
    const char* forced = std::getenv("INFINI_DISK_FULL");
    if (forced == nullptr || std::string(forced) != "rlimit") try_mount_tmpfs();
    snapshot_dir_ = mount_point_ / "snapshots";
    fs::create_directories(snapshot_dir_);
  }
  ~FullableDisk() {
    if (mounted_) ::umount2(mount_point_.c_str(), MNT_DETACH);
  }
  FullableDisk(const FullableDisk&) = delete;
  FullableDisk& operator=(const FullableDisk&) = delete;

  bool tmpfs() const { return mounted_; }
  const std::string& why_not_tmpfs() const { return why_not_tmpfs_; }
  const fs::path& snapshot_dir() const { return snapshot_dir_; }

  // tmpfs: a file takes every page left. rlimit: servers started from now
  // on may write files of at most `limit_bytes`.
  void make_full(int64_t limit_bytes) {
    full_ = true;
    limit_bytes_ = limit_bytes;
    if (!mounted_) return;
    const fs::path filler = mount_point_ / "filler";
    const int fd = ::open(filler.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    ASSERT_GE(fd, 0) << std::strerror(errno);
    const std::string block(1 << 16, 'x');
    int err = 0;
    while (err == 0) {
      if (::write(fd, block.data(), block.size()) < 0 && errno != EINTR) err = errno;
    }
    ::close(fd);
    ASSERT_EQ(err, ENOSPC) << "filling the tmpfs: " << std::strerror(err);
  }

  void free_space() {
    full_ = false;
    if (mounted_) fs::remove(mount_point_ / "filler");
  }

  // The server on this disk. With the rlimit in force it is set in this
  // process just around the fork, which the child inherits through exec.
  std::unique_ptr<ServerProcess> start_server() const {
    const std::vector<std::string> flags = {"--snapshot-dir", snapshot_dir_.string()};
    if (mounted_ || !full_) return ServerProcess::start(flags);
    rlimit saved{};
    ::getrlimit(RLIMIT_FSIZE, &saved);
    rlimit limited = saved;
    limited.rlim_cur = static_cast<rlim_t>(limit_bytes_);
    if (::setrlimit(RLIMIT_FSIZE, &limited) != 0) {
      throw std::runtime_error(std::string("setrlimit(RLIMIT_FSIZE): ") + std::strerror(errno));
    }
    std::unique_ptr<ServerProcess> server;
    try {
      server = ServerProcess::start(flags);
    } catch (...) {
      ::setrlimit(RLIMIT_FSIZE, &saved);
      throw;
    }
    ::setrlimit(RLIMIT_FSIZE, &saved);
    return server;
  }

  // Everything in the snapshot directory but the snapshots themselves
  // (a temporary file left by a failed write would show here).
  std::vector<std::string> stray_files() const {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(snapshot_dir_)) {
      if (e.path().extension() != ".snap") out.push_back(e.path().filename().string());
    }
    return out;
  }

 private:
  void try_mount_tmpfs() {
    // A mount namespace of this thread's own (the servers are forked from it,
    // so they see the mount); then a plain mount as the second choice.
    if (::unshare(CLONE_NEWNS) == 0) {
      ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr);
    }
    if (::mount("tmpfs", mount_point_.c_str(), "tmpfs", MS_NOSUID | MS_NODEV,
                "size=1m,mode=0700") == 0) {
      mounted_ = true;
    } else {
      why_not_tmpfs_ = std::string("mount -t tmpfs: ") + std::strerror(errno);
    }
  }

  TempDir base_;
  fs::path mount_point_;
  fs::path snapshot_dir_;
  bool mounted_ = false;
  std::string why_not_tmpfs_ = "INFINI_DISK_FULL=rlimit";
  bool full_ = false;
  int64_t limit_bytes_ = 0;
};

TEST(DiskFull, IngestFailsClearlyAndThePreviousSnapshotSurvives) {
  FullableDisk disk;
  if (disk.tmpfs()) {
    std::cout << "[ disk full ] snapshot directory on a 1 MiB tmpfs filled to the last page\n";
  } else {
    std::cout << "[ disk full ] no tmpfs (" << disk.why_not_tmpfs()
              << "): the server runs with RLIMIT_FSIZE below a snapshot's size\n";
  }
  const std::string first = make_document(6000, 21);
  const std::string second = make_document(6000, 22);

  // A good snapshot, with text left pending mid-word.
  auto server = disk.start_server();
  std::string id, answer;
  int64_t tokens = 0;
  {
    InfiniClient c(server->channel());
    IngestOptions options;
    options.flush = false;
    const auto r = c.ingest(first, options);
    id = r.session().id();
    tokens = r.session().tokens();
    answer = c.ask(id, "What is it about?", greedy(12)).text;
  }
  const fs::path snapshot = disk.snapshot_dir() / (id + ".snap");
  std::string good = read_file(snapshot);
  ASSERT_GT(good.size(), 4096u);

  // The disk fills up (rlimit: a restart under the limit, half a snapshot).
  disk.make_full(static_cast<int64_t>(good.size() / 2));
  if (!disk.tmpfs()) {
    ASSERT_EQ(server->stop(), 0);
    good = read_file(snapshot);  // rewritten at shutdown (the Ask moved last_used)
    server = disk.start_server();
  }
  const std::string reason = disk.tmpfs() ? "No space left on device" : "File too large";
  {
    InfiniClient c(server->channel());
    IngestOptions more;
    more.session_id = id;
    try {
      c.ingest(second, more);
      FAIL() << "the Ingest succeeded on a full disk";
    } catch (const ClientError& e) {
      EXPECT_EQ(e.code(), grpc::StatusCode::INTERNAL) << e.what();
      EXPECT_NE(e.message().find("snapshot was not written"), std::string::npos) << e.message();
      EXPECT_NE(e.message().find(snapshot.string()), std::string::npos) << e.message();
      EXPECT_NE(e.message().find(reason), std::string::npos) << e.message();
      std::cout << "[ disk full ] Ingest: " << e.message() << "\n";
    }
    EXPECT_EQ(read_file(snapshot), good) << "the previous snapshot changed";
    EXPECT_EQ(disk.stray_files(), std::vector<std::string>{}) << "a failed write left a file";
  }
  // SIGTERM while still full: the shutdown write fails too, said in the log,
  // and the process still exits 0 with the previous snapshot in place.
  EXPECT_EQ(server->stop(), 0);
  EXPECT_NE(server->log().find("snapshot not written at shutdown"), std::string::npos)
      << server->log();
  EXPECT_NE(server->log().find(reason), std::string::npos) << server->log();
  EXPECT_EQ(read_file(snapshot), good) << "the previous snapshot changed at shutdown";

  // Room again: the restart restores the last good state and answers as
  // before; the next Ingest writes its snapshot and survives a restart.
  disk.free_space();
  server = disk.start_server();
  EXPECT_NE(server->log().find("1 sessions restored, 0 skipped"), std::string::npos)
      << server->log();
  int64_t after_second = 0;
  {
    InfiniClient c(server->channel());
    EXPECT_EQ(c.get_session(id).tokens(), tokens);
    EXPECT_EQ(c.ask(id, "What is it about?", greedy(12)).text, answer);
    IngestOptions more;
    more.session_id = id;
    after_second = c.ingest(second, more).session().tokens();
    EXPECT_GT(after_second, tokens);
  }
  EXPECT_NE(read_file(snapshot), good);
  ::kill(-server->pid(), SIGKILL);  // no shutdown write: the Ingest's own snapshot must hold
  server->stop();
  server = disk.start_server();
  InfiniClient c(server->channel());
  EXPECT_EQ(c.get_session(id).tokens(), after_second);
}

}  // namespace
}  // namespace infini::e2e
