// The snapshot directory. Failures are injected in ways that hold when the
// tests run as root (permissions do not stop root): a directory where the
// snapshot file should go (rename fails with EISDIR) and a file-size limit
// (RLIMIT_FSIZE, which binds root too: write fails with EFBIG, as it would
// with ENOSPC on a full disk). A real full disk is left to the fault tests.
#include "server/sessions/file_session_store.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "tests/engine/test_support.h"

namespace infini::server {
namespace {

namespace fs = std::filesystem;
using infini::testing::TempDir;

std::set<std::string> names_in(const fs::path& dir) {
  std::set<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) names.insert(entry.path().filename());
  return names;
}

void touch(const fs::path& path, const std::string& bytes = "x") {
  std::ofstream(path, std::ios::binary) << bytes;
}

TEST(FileSessionStoreTest, WriteThenReadGivesTheBytes) {
  TempDir dir;
  FileSessionStore store(fs::path(dir.path()) / "nested" / "snapshots");  // created
  const std::string bytes = std::string("INFINISS\0\x01\xff binary", 19) + std::string(100000, 'q');
  store.write("abc", bytes);
  EXPECT_EQ(store.path_of("abc"), store.dir() / "abc.snap");
  EXPECT_EQ(FileSessionStore::read_file(store.path_of("abc")), bytes);
  EXPECT_EQ(fs::status(store.path_of("abc")).permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);
  store.write("empty", "");
  EXPECT_EQ(FileSessionStore::read_file(store.path_of("empty")), "");
}

TEST(FileSessionStoreTest, OverwriteReplacesAndLeavesNoTemporaryFiles) {
  TempDir dir;
  FileSessionStore store(dir.path());
  store.write("0123456789abcdef0123456789abcdef", std::string(5000, 'a'));
  store.write("0123456789abcdef0123456789abcdef", "b");
  EXPECT_EQ(FileSessionStore::read_file(store.path_of("0123456789abcdef0123456789abcdef")), "b");
  EXPECT_EQ(names_in(dir.path()), std::set<std::string>{"0123456789abcdef0123456789abcdef.snap"});
}

TEST(FileSessionStoreTest, ConcurrentWritersOfOneIdLeaveOneWholeSnapshot) {
  TempDir dir;
  FileSessionStore store(dir.path());
  std::vector<std::thread> writers;
  for (char c = 'a'; c < 'a' + 6; ++c) {
    writers.emplace_back([&store, c] {
      for (int i = 0; i < 20; ++i) store.write("same", std::string(10000 + c, c));
    });
  }
  for (auto& t : writers) t.join();
  const std::string bytes = FileSessionStore::read_file(store.path_of("same"));
  ASSERT_FALSE(bytes.empty());
  EXPECT_EQ(bytes, std::string(10000 + bytes[0], bytes[0]));
  EXPECT_EQ(names_in(dir.path()), std::set<std::string>{"same.snap"});
}

TEST(FileSessionStoreTest, ListSkipsTemporaryAndOtherFiles) {
  TempDir dir;
  FileSessionStore store(dir.path());
  store.write("b", "2");
  store.write("a", "1");
  store.write("c-_Z9", "3");
  touch(store.dir() / ".a.snap.tmp-123-4");  // a crashed writer's leftover
  touch(store.dir() / ".hidden.snap");
  touch(store.dir() / "notes.txt");
  touch(store.dir() / "a.snap.bak");
  touch(store.dir() / ".snap");
  fs::create_directory(store.dir() / "dir.snap");
  fs::create_symlink(store.dir() / "a.snap", store.dir() / "link.snap");
  const std::vector<fs::path> expected = {store.dir() / "a.snap", store.dir() / "b.snap",
                                          store.dir() / "c-_Z9.snap"};
  EXPECT_EQ(store.list(), expected);
}

TEST(FileSessionStoreTest, Remove) {
  TempDir dir;
  FileSessionStore store(dir.path());
  store.write("gone", "x");
  store.write("kept", "y");
  EXPECT_TRUE(store.remove("gone"));
  EXPECT_FALSE(fs::exists(store.path_of("gone")));
  EXPECT_FALSE(store.remove("gone")) << "nothing left to remove";
  EXPECT_FALSE(store.remove("../kept")) << "an invalid id removes nothing and does not throw";
  EXPECT_EQ(store.list(), std::vector<fs::path>{store.path_of("kept")});
}

TEST(FileSessionStoreTest, InvalidIdsThrow) {
  TempDir dir;
  FileSessionStore store(fs::path(dir.path()) / "store");
  touch(fs::path(dir.path()) / "victim.snap", "keep me");
  for (const std::string& id :
       std::vector<std::string>{"", ".", "..", "../victim", "a/b", "/etc/passwd", "a.b", "x y",
                                "caf\xc3\xa9", std::string("nul\0id", 6), std::string(129, 'a')}) {
    EXPECT_THROW(store.write(id, "x"), std::invalid_argument) << id;
    EXPECT_THROW(store.path_of(id), std::invalid_argument) << id;
  }
  EXPECT_EQ(FileSessionStore::read_file(fs::path(dir.path()) / "victim.snap"), "keep me");
  EXPECT_TRUE(store.list().empty());
  store.write(std::string(128, 'a'), "longest id");
  store.write("Az09_-", "every kind of character");
  EXPECT_EQ(store.list().size(), 2u);
}

TEST(FileSessionStoreTest, FailedRenameLeavesOtherSnapshotsAndNoTemporaryFile) {
  TempDir dir;
  FileSessionStore store(dir.path());
  store.write("x", "snapshot A");
  // A non-empty directory where y's snapshot should go: rename() fails
  // (EISDIR), whoever runs the test.
  fs::create_directory(store.path_of("y"));
  touch(store.path_of("y") / "inside");
  try {
    store.write("y", "snapshot B");
    FAIL() << "wrote over a directory";
  } catch (const std::runtime_error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("cannot write snapshot " + store.path_of("y").string()), std::string::npos)
        << what;
    EXPECT_NE(what.find(std::strerror(EISDIR)), std::string::npos) << what;
  }
  EXPECT_EQ(names_in(dir.path()), (std::set<std::string>{"x.snap", "y.snap"}));
  EXPECT_EQ(FileSessionStore::read_file(store.path_of("x")), "snapshot A");
}

// A write that fails part way (the file-size limit stands in for a full
// disk) leaves the previous snapshot of the same session as it was.
TEST(FileSessionStoreTest, FailedWriteKeepsThePreviousSnapshot) {
  TempDir dir;
  FileSessionStore store(dir.path());
  const std::string previous(1000, 'A');
  store.write("s", previous);

  rlimit saved{};
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &saved), 0);
  if (saved.rlim_max != RLIM_INFINITY && saved.rlim_max < 4096) GTEST_SKIP() << "hard limit";
  // Past the limit write() fails with EFBIG instead of killing us with SIGXFSZ.
  struct sigaction ignore {
  }, old{};
  ignore.sa_handler = SIG_IGN;
  ASSERT_EQ(::sigaction(SIGXFSZ, &ignore, &old), 0);
  rlimit small = saved;
  small.rlim_cur = 4096;
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &small), 0);
  std::string error;
  try {
    store.write("s", std::string(100000, 'B'));
  } catch (const std::runtime_error& e) {
    error = e.what();
  }
  ::setrlimit(RLIMIT_FSIZE, &saved);
  ::sigaction(SIGXFSZ, &old, nullptr);

  EXPECT_NE(error.find("cannot write snapshot " + store.path_of("s").string()), std::string::npos)
      << error;
  EXPECT_NE(error.find(std::strerror(EFBIG)), std::string::npos) << error;
  EXPECT_EQ(FileSessionStore::read_file(store.path_of("s")), previous);
  EXPECT_EQ(names_in(dir.path()), std::set<std::string>{"s.snap"}) << "temporary file left";
}

TEST(FileSessionStoreTest, DirectoryThatIsAFileIsNamed) {
  TempDir dir;
  const fs::path file = fs::path(dir.path()) / "plain";
  touch(file);
  try {
    FileSessionStore store(file);
    FAIL() << "a regular file accepted as the snapshot directory";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(file.string()), std::string::npos) << e.what();
  }
  EXPECT_THROW(FileSessionStore(file / "below"), std::runtime_error);
}

TEST(FileSessionStoreTest, ReadOfAMissingFileIsNamed) {
  TempDir dir;
  const fs::path missing = fs::path(dir.path()) / "missing.snap";
  try {
    FileSessionStore::read_file(missing);
    FAIL();
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(missing.string()), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace infini::server
