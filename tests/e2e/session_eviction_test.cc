// Eviction under --max-state-bytes with the real server: with a snapshot
// directory and a budget for two sessions' state, five sessions read their
// documents in turns and answer exactly as with an unlimited budget, the
// state in memory never passes the budget, the metrics count evictions and
// reloads, and a restart brings all five back; without a snapshot directory
// the third session is RESOURCE_EXHAUSTED.
#include "tests/e2e/e2e_support.h"

namespace infini::e2e {
namespace {

using client::ClientError;
using client::GenerationParams;
using client::InfiniClient;
using client::IngestOptions;

constexpr int kSessions = 5;

GenerationParams greedy(int32_t max_tokens) {
  GenerationParams p;
  p.max_tokens = max_tokens;
  p.stop = {"\x01never"};  // the random test model: always generate max_tokens
  return p;
}

struct Reference {
  int64_t state_bytes = 0;
  std::vector<std::string> answers;
  std::vector<int64_t> tokens;
};

std::string document(int i) { return make_document(6000 + 1500 * i, 20 + i); }

// Each document read in two calls, all sessions' first halves before any
// second half: with room for two, every turn reloads an evicted session.
std::vector<std::string> ingest_in_turns(InfiniClient& c, const std::function<void()>& check) {
  std::vector<std::string> ids;
  for (int i = 0; i < kSessions; ++i) {
    const std::string doc = document(i);
    IngestOptions first;
    first.flush = false;
    first.labels = {{"doc", std::to_string(i)}};
    ids.push_back(c.ingest(std::string_view(doc).substr(0, doc.size() / 2), first).session().id());
    check();
  }
  for (int i = 0; i < kSessions; ++i) {
    const std::string doc = document(i);
    IngestOptions rest;
    rest.session_id = ids[i];
    c.ingest(std::string_view(doc).substr(doc.size() / 2), rest);
    check();
  }
  return ids;
}

Reference unlimited_reference() {
  auto server = ServerProcess::start();
  InfiniClient c(server->channel());
  Reference ref;
  const auto ids = ingest_in_turns(c, [] {});
  for (const auto& id : ids) {
    ref.answers.push_back(c.ask(id, "What happened?", greedy(10)).text);
    ref.tokens.push_back(c.get_session(id).tokens());
  }
  ref.state_bytes = c.get_session(ids[0]).state_bytes();
  return ref;
}

TEST(SessionEviction, FiveSessionsInARoomForTwoAnswerAsWithoutALimit) {
  const Reference ref = unlimited_reference();
  ASSERT_GT(ref.state_bytes, 0);
  const int64_t budget = 2 * ref.state_bytes;
  TempDir snapshots("infini-e2e-eviction");
  const std::vector<std::string> flags = {"--snapshot-dir", snapshots.path().string(),
                                          "--max-state-bytes", std::to_string(budget)};
  std::vector<std::string> ids;
  {
    auto server = ServerProcess::start(flags);
    InfiniClient c(server->channel());
    double most_state = 0;
    auto check = [&] {
      const auto samples = scrape(*server);
      most_state = std::max(most_state, metric_value(samples, "infini_state_bytes"));
    };
    ids = ingest_in_turns(c, check);
    for (int i = 0; i < kSessions; ++i) {
      EXPECT_EQ(c.ask(ids[i], "What happened?", greedy(10)).text, ref.answers[i]) << i;
      EXPECT_EQ(c.get_session(ids[i]).tokens(), ref.tokens[i]) << i;
      check();
    }
    EXPECT_LE(most_state, static_cast<double>(budget));
    EXPECT_GT(most_state, 0.0);

    // Every session is listed, evicted or not; only two are in memory.
    const auto listed = c.list_all_sessions();
    ASSERT_EQ(listed.size(), static_cast<size_t>(kSessions));
    int resident = 0;
    for (const auto& s : listed) resident += s.evicted() ? 0 : 1;
    EXPECT_EQ(resident, 2);
    EXPECT_EQ(listed[0].labels().count("doc"), 1u);

    const auto samples = scrape(*server);
    EXPECT_EQ(metric_value(samples, "infini_sessions_active"), kSessions);
    EXPECT_EQ(metric_value(samples, "infini_sessions_evicted"), kSessions - 2);
    EXPECT_EQ(metric_value(samples, "infini_state_bytes"), static_cast<double>(budget));
    // Each of the 10 Ingest calls and 5 Asks after the first two creations
    // found its session evicted or had to make room.
    EXPECT_GE(metric_value(samples, "infini_session_evictions_total"), 10.0);
    EXPECT_GE(metric_value(samples, "infini_session_reloads_total"), 5.0);
    EXPECT_EQ(metric_value(samples, "infini_session_reload_duration_seconds_count"),
              metric_value(samples, "infini_session_reloads_total"));

    // A fork of an evicted session reloads it first and answers as it does.
    std::string evicted;
    for (const auto& s : c.list_all_sessions()) {
      if (s.evicted()) evicted = s.id();
    }
    ASSERT_FALSE(evicted.empty());
    const auto at = std::find(ids.begin(), ids.end(), evicted) - ids.begin();
    const std::string fork = c.fork_session(evicted).id();
    EXPECT_EQ(c.ask(fork, "What happened?", greedy(10)).text, ref.answers[at]);
    c.delete_session(fork);
    // Deleting an evicted session removes its snapshot.
    std::string gone;
    for (const auto& s : c.list_all_sessions()) {
      if (s.evicted() && s.id() != evicted) gone = s.id();
    }
    ASSERT_FALSE(gone.empty());
    ASSERT_TRUE(fs::exists(snapshots.path() / (gone + ".snap")));
    c.delete_session(gone);
    EXPECT_FALSE(fs::exists(snapshots.path() / (gone + ".snap")));
    ids.erase(std::find(ids.begin(), ids.end(), gone));
    EXPECT_EQ(server->stop(), 0);
  }

  // A restart restores two into memory and registers the rest as evicted.
  auto server = ServerProcess::start(flags);
  const std::string log = server->log();
  EXPECT_NE(log.find(std::to_string(kSessions - 1) + " sessions restored, 0 skipped"),
            std::string::npos)
      << log;
  EXPECT_NE(log.find(std::to_string(kSessions - 3) + " of the restored sessions stay evicted"),
            std::string::npos)
      << log;
  InfiniClient c(server->channel());
  for (const auto& id : ids) {
    const std::string label = c.get_session(id).labels().at("doc");
    EXPECT_EQ(c.ask(id, "What happened?", greedy(10)).text, ref.answers[std::stoi(label)]) << id;
  }
  EXPECT_LE(metric_value(scrape(*server), "infini_state_bytes"), static_cast<double>(budget));
}

TEST(SessionEviction, WithoutASnapshotDirectoryTheThirdSessionIsRefused) {
  auto probe = ServerProcess::start();
  const int64_t state_bytes = InfiniClient(probe->channel()).create_session().state_bytes();
  probe->stop();
  auto server = ServerProcess::start({"--max-state-bytes", std::to_string(2 * state_bytes)});
  InfiniClient c(server->channel());
  c.ingest(document(0));
  c.create_session();
  try {
    c.create_session();
    ADD_FAILURE() << "a third session fit in a budget for two";
  } catch (const ClientError& e) {
    EXPECT_EQ(e.code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << e.what();
    EXPECT_NE(e.message().find("--max-state-bytes"), std::string::npos) << e.what();
  }
  EXPECT_EQ(c.list_all_sessions().size(), 2u);
}

}  // namespace
}  // namespace infini::e2e
