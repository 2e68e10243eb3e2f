// Durable sessions with the real server: snapshots written after every
// Ingest and at shutdown survive kill -9, answer exactly as before, and go
// on reading exactly as an uninterrupted session would; snapshots the server
// cannot use are reported and left in place.
#include <signal.h>

#include "tests/e2e/e2e_support.h"

namespace infini::e2e {
namespace {

using client::GenerationParams;
using client::InfiniClient;
using client::IngestOptions;

GenerationParams greedy(int32_t max_tokens) {
  GenerationParams p;
  p.max_tokens = max_tokens;
  p.stop = {"\x01never"};  // the random test model: always generate max_tokens
  return p;
}

std::vector<fs::path> snapshot_files(const fs::path& dir) {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

void kill_hard(ServerProcess& server) {
  ::kill(-server.pid(), SIGKILL);
  server.stop();  // reaps it
}

// Ingest (text left pending mid-word), ask, kill -9, restart: the session is
// there with the same counts and answers; reading the rest of the document
// gives what one uninterrupted session gives.
TEST(DurableSessions, SessionSurvivesKillNineAndContinuesExactly) {
  TempDir snapshots("infini-e2e-snapshots");
  const std::string doc = make_document(20000, 3);
  const size_t cut = 11111;  // inside a word: text stays pending across the restart
  const std::vector<std::string> flags = {"--snapshot-dir", snapshots.path().string()};

  std::string id, answer;
  int64_t tokens = 0;
  {
    auto server = ServerProcess::start(flags);
    InfiniClient c(server->channel());
    IngestOptions first;
    first.labels = {{"team", "search"}};
    first.chunk_bytes = 3000;
    first.flush = false;
    const auto r = c.ingest(std::string_view(doc).substr(0, cut), first);
    id = r.session().id();
    tokens = r.session().tokens();
    answer = c.ask(id, "What is it about?", greedy(12)).text;
    ASSERT_EQ(snapshot_files(snapshots.path()).size(), 1u);
    kill_hard(*server);
  }

  auto server = ServerProcess::start(flags);
  EXPECT_NE(server->log().find("1 sessions restored, 0 skipped"), std::string::npos)
      << server->log();
  InfiniClient c(server->channel());
  const auto restored = c.get_session(id);
  EXPECT_EQ(restored.tokens(), tokens);
  EXPECT_EQ(restored.labels().at("team"), "search");
  EXPECT_EQ(c.ask(id, "What is it about?", greedy(12)).text, answer);

  IngestOptions rest;
  rest.session_id = id;
  rest.chunk_bytes = 2500;
  const auto continued = c.ingest(std::string_view(doc).substr(cut), rest);
  IngestOptions whole;
  whole.chunk_bytes = 7000;
  const auto reference = c.ingest(doc, whole);
  EXPECT_EQ(continued.session().tokens(), reference.session().tokens());
  EXPECT_EQ(continued.session().segments(), reference.session().segments());
  EXPECT_EQ(c.ask(id, "And then?", greedy(12)).text,
            c.ask(reference.session().id(), "And then?", greedy(12)).text);
}

// kill -9 while an Ingest into an existing session is streaming: after the
// restart the session is exactly as its last completed Ingest left it (the
// interrupted call counts not at all), and reading the same text again gives
// what an uninterrupted session gives.
TEST(DurableSessions, KillNineDuringAnIngestKeepsTheLastCompletedOne) {
  TempDir snapshots("infini-e2e-snapshots");
  const std::vector<std::string> flags = {"--snapshot-dir", snapshots.path().string()};
  const std::string first = make_document(8000, 6);
  const std::string second = make_document(400000, 7);
  std::string id, answer;
  int64_t tokens = 0;
  {
    auto server = ServerProcess::start(flags);
    InfiniClient c(server->channel());
    IngestOptions options;
    options.flush = false;
    const auto r = c.ingest(first, options);
    id = r.session().id();
    tokens = r.session().tokens();
    answer = c.ask(id, "What?", greedy(10)).text;

    std::atomic<int64_t> sent{0};
    std::atomic<bool> completed{false};
    std::thread ingest([&] {
      IngestOptions more;
      more.session_id = id;
      more.chunk_bytes = 2000;
      try {
        c.ingest(second, more, [&](const client::IngestProgress& p) { sent = p.sent; });
        completed = true;
      } catch (const client::ClientError&) {
        // UNAVAILABLE once the server is gone: expected.
      }
    });
    const auto give_up = std::chrono::steady_clock::now() + 30s;
    while (sent < 100000 && std::chrono::steady_clock::now() < give_up) {
      std::this_thread::sleep_for(5ms);
    }
    kill_hard(*server);
    ingest.join();
    ASSERT_FALSE(completed) << "the Ingest finished before the kill: nothing was interrupted";
  }
  auto server = ServerProcess::start(flags);
  InfiniClient c(server->channel());
  EXPECT_EQ(c.get_session(id).tokens(), tokens);
  EXPECT_EQ(c.ask(id, "What?", greedy(10)).text, answer);
}

// SIGTERM writes every session, including forks no Ingest ever touched;
// DeleteSession removes the snapshot.
TEST(DurableSessions, CleanShutdownWritesEverySessionAndDeleteRemovesIt) {
  TempDir snapshots("infini-e2e-snapshots");
  const std::vector<std::string> flags = {"--snapshot-dir", snapshots.path().string()};
  std::string kept, fork, deleted, answer;
  {
    auto server = ServerProcess::start(flags);
    InfiniClient c(server->channel());
    kept = c.ingest(make_document(6000, 1)).session().id();
    deleted = c.ingest(make_document(3000, 2)).session().id();
    fork = c.fork_session(kept).id();
    answer = c.ask(fork, "Why?", greedy(8)).text;
    EXPECT_EQ(snapshot_files(snapshots.path()).size(), 2u);  // the fork is not written yet
    c.delete_session(deleted);
    EXPECT_EQ(snapshot_files(snapshots.path()).size(), 1u);
    EXPECT_EQ(server->stop(), 0);
    EXPECT_NE(server->log().find("2 of 2 session snapshots written"), std::string::npos)
        << server->log();
  }
  auto server = ServerProcess::start(flags);
  InfiniClient c(server->channel());
  std::set<std::string> ids;
  for (const auto& s : c.list_all_sessions()) ids.insert(s.id());
  EXPECT_EQ(ids, (std::set<std::string>{kept, fork}));
  EXPECT_EQ(c.ask(fork, "Why?", greedy(8)).text, answer);
}

// SIGTERM while a long answer streams: the server ends the call, writes the
// session's snapshot and exits 0; the client sees its call end, not hang.
TEST(DurableSessions, SigtermDuringGenerationEndsCleanly) {
  TempDir snapshots("infini-e2e-snapshots");
  auto server = ServerProcess::start(
      {"--snapshot-dir", snapshots.path().string(), "--max-tokens-limit", "100000"});
  InfiniClient c(server->channel());
  const std::string id = c.ingest(make_document(4000, 8)).session().id();
  std::atomic<int> deltas{0};
  std::atomic<bool> ended{false};
  std::thread ask([&] {
    try {
      c.ask(id, "Go on.", greedy(100000), [&](std::string_view) {
        ++deltas;
        return true;
      });
    } catch (const client::ClientError&) {
    }
    ended = true;
  });
  const auto give_up = std::chrono::steady_clock::now() + 30s;
  while (deltas < 20 && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(5ms);
  }
  ASSERT_GE(deltas, 20) << "the answer did not start streaming";
  EXPECT_EQ(server->stop(), 0) << server->log();
  ask.join();
  EXPECT_TRUE(ended);
  EXPECT_NE(server->log().find("1 of 1 session snapshots written"), std::string::npos)
      << server->log();
}

// A damaged file, a snapshot of another model and an empty temporary file
// left by a crash: the server starts, says why for the first two, restores
// the rest, and deletes nothing.
TEST(DurableSessions, UnusableSnapshotsAreReportedAndKept) {
  TempDir snapshots("infini-e2e-snapshots");
  const std::vector<std::string> flags = {"--snapshot-dir", snapshots.path().string()};
  std::string good, other;
  {
    auto server = ServerProcess::start(flags);
    InfiniClient c(server->channel());
    good = c.ingest(make_document(4000, 1)).session().id();
    other = c.ingest(make_document(4000, 2)).session().id();
  }
  // Damage one byte in the middle of `other`'s snapshot.
  const fs::path damaged = snapshots.path() / (other + ".snap");
  std::string bytes = read_file(damaged);
  ASSERT_GT(bytes.size(), 100u);
  bytes[bytes.size() / 2] ^= 0x10;
  std::ofstream(damaged, std::ios::binary | std::ios::trunc) << bytes;
  std::ofstream(snapshots.path() / "ffffffffffffffffffffffffffffffff.snap") << "not a snapshot";
  std::ofstream(snapshots.path() / ".tmp-left-by-a-crash.snap.tmp-1-1") << "";
  const auto before = snapshot_files(snapshots.path());

  {
    auto server = ServerProcess::start(flags);
    const std::string log = server->log();
    EXPECT_NE(log.find("1 sessions restored, 2 skipped"), std::string::npos) << log;
    EXPECT_NE(log.find(other + ".snap not restored (left in place): checksum mismatch"),
              std::string::npos)
        << log;
    EXPECT_NE(log.find("ffffffffffffffffffffffffffffffff.snap not restored"), std::string::npos)
        << log;
    InfiniClient c(server->channel());
    EXPECT_EQ(c.get_session(good).id(), good);
    EXPECT_THROW(c.get_session(other), client::ClientError);
  }
  EXPECT_EQ(snapshot_files(snapshots.path()), before) << "a snapshot was deleted or added";

  // Another model (same shapes, other weights): nothing is restored.
  TempDir other_model("infini-e2e-other-model");
  const fs::path model = other_model.path() / "model";
  fs::copy(test_model_dir(), model, fs::copy_options::recursive);
  {
    std::fstream f(model / "model.safetensors", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(-4, std::ios::end);
    f.write("\x01\x02\x03\x04", 4);
  }
  auto server = ServerProcess::start(flags, model.string());
  const std::string log = server->log();
  EXPECT_NE(log.find("0 sessions restored, 3 skipped"), std::string::npos) << log;
  EXPECT_NE(log.find(good + ".snap not restored (left in place)"), std::string::npos) << log;
  EXPECT_EQ(snapshot_files(snapshots.path()), before);
}

// The snapshot cannot be written (its path is taken by a directory): the
// Ingest says so with INTERNAL and the path, every chunk was still read, and
// no temporary file is left (that an older snapshot survives a failed write
// is file_session_store_test's).
TEST(DurableSessions, AFailedSnapshotIsAClearErrorAndTheChunksStayRead) {
  TempDir snapshots("infini-e2e-snapshots");
  auto server = ServerProcess::start({"--snapshot-dir", snapshots.path().string()});
  InfiniClient c(server->channel());
  IngestOptions first;
  first.flush = false;
  const std::string id = c.ingest(make_document(3000, 4), first).session().id();
  const fs::path file = snapshots.path() / (id + ".snap");
  const int64_t before = c.get_session(id).tokens();
  // Replace the file by a non-empty directory: rename() over it fails.
  fs::remove(file);
  fs::create_directories(file / "blocker");
  IngestOptions more;
  more.session_id = id;
  try {
    c.ingest(make_document(3000, 5), more);
    FAIL() << "the Ingest succeeded without a snapshot";
  } catch (const client::ClientError& e) {
    EXPECT_EQ(e.code(), grpc::StatusCode::INTERNAL);
    EXPECT_NE(e.message().find("snapshot was not written"), std::string::npos) << e.message();
    EXPECT_NE(e.message().find(file.string()), std::string::npos) << e.message();
  }
  EXPECT_GT(c.get_session(id).tokens(), before);
  for (const auto& f : snapshot_files(snapshots.path())) {
    EXPECT_EQ(f.filename().string().find(".tmp"), std::string::npos) << "temporary file left: " << f;
  }
}

}  // namespace
}  // namespace infini::e2e
