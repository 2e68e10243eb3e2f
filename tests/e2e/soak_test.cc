// Soak, bounded in time, loopback only: client threads create, ingest (random
// chunkings, cut inside UTF-8 characters too), ask, summarize, fork and delete
// sessions against the real server, with a snapshot directory and a state
// budget of a few sessions (so idle sessions are evicted to disk and reloaded),
// and cancel some calls at random (short deadlines, TryCancel mid-answer).
// At the end nothing leaked and nothing was lost:
//   - the sessions the server lists are exactly those the clients hold, plus
//     any whose creating call was cancelled after the server made it (found
//     by their label), and the snapshot directory holds no file of a deleted
//     session and no temporary file;
//   - the server's open descriptors are back within 8 of the start, its RSS
//     within 96 MiB of the start (INFINI_SOAK_RSS_SLACK_MB), and no call is in
//     flight;
//   - every surviving session answers (greedy) exactly as a fresh session fed
//     its document whole.
// A session into which an Ingest was cancelled or refused holds an unknown
// prefix of that call's chunks ("every chunk counts whole or not at all"), so
// its owner deletes it; asks never change a session, so cancelled ones
// leave it known.
//
// INFINI_SOAK_SECONDS (default 60) sets how long the load runs; scripts/soak
// runs it longer. INFINI_SOAK_THREADS (default 6) and
// INFINI_SOAK_RESIDENT_SESSIONS (default threads + 2: --max-state-bytes is that
// many sessions' state, while the clients hold about three times as many) and
// INFINI_SOAK_DOCUMENT_BYTES (default 48 KiB: a session's document grows up
// to that, then it is deleted) shape it. The figures are printed at the end.
#include <atomic>
#include <optional>
#include <set>
#include <thread>

#include "tests/e2e/e2e_support.h"

namespace infini::e2e {
namespace {

constexpr int kFdSlack = 8;
constexpr size_t kMaxHeld = 8;  // sessions per client thread, beyond which it deletes
constexpr int32_t kAnswerTokens = 8;

int env_int(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::stoi(v) : fallback;
}

int open_fds(pid_t pid) {
  int n = 0;
  for ([[maybe_unused]] const auto& e :
       fs::directory_iterator("/proc/" + std::to_string(pid) + "/fd"))
    ++n;
  return n;
}

std::string log_lines_with(const std::string& log, const std::string& needle) {
  std::istringstream in(log);
  std::string line, out;
  while (std::getline(in, line)) {
    if (line.find(needle) != std::string::npos) out += line + "\n";
  }
  return out;
}

// The session an Ingest made before it failed, from the status message
// ("... (session <id> holds N tokens)"), or "".
std::string session_in(const grpc::Status& s) {
  static const std::regex id(R"(\(session ([0-9a-f]+) holds)");
  std::smatch m;
  const std::string message = s.error_message();
  return std::regex_search(message, m, id) ? m[1].str() : "";
}

bool cancelled_or_deadline(const grpc::Status& s) {
  return s.error_code() == grpc::StatusCode::CANCELLED ||
         s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED;
}

// One session as its owner knows it: the text read into it so far.
struct Held {
  std::string id;
  std::string label;     // the "soak" label, unique per session
  std::string document;  // everything ingested, in order (no flush ever)
};

// A call that may have made a session before it was cancelled: its label,
// and the document such a session would hold (nullopt: unknown).
struct Unconfirmed {
  std::string label;
  std::optional<std::string> document;
};

struct Figures {
  std::atomic<int64_t> ops{0}, creates{0}, ingests{0}, ingest_bytes{0}, asks{0}, summaries{0},
      forks{0}, deletes{0}, cancelled{0}, refused{0}, uncertain_deleted{0}, adopted{0};
};

// Every call waits for the channel to be connected rather than failing
// fast with UNAVAILABLE if a (re)connection attempt has just failed: what
// a real client retrying UNAVAILABLE gets, and the call never leaves the
// client before that (CI once saw one such connect fail mid-soak while
// the server served the other clients).
void begin(grpc::ClientContext& ctx, std::chrono::system_clock::time_point deadline) {
  ctx.set_deadline(deadline);
  ctx.set_wait_for_ready(true);
}


class Client {
 public:
  // A session whose document passes `max_document` bytes is deleted; one
  // Ingest adds up to a quarter of that.
  Client(const ServerProcess& server, const std::string& text, size_t max_document, int index,
         Figures& figures)
      : stub_(v1::LongContext::NewStub(server.channel())),
        text_(text),
        max_document_(max_document),
        index_(index),
        rng_(1000 + index),
        figures_(figures) {}

  // Runs random operations until `stop`; returns an error description or "".
  std::string run(const std::atomic<bool>& stop) {
    while (!stop.load()) {
      ++figures_.ops;
      std::string error;
      const int dice = pick(0, 99);
      if (++ops_ % 40 == 0) {
        error = adopt();
      } else if (held_.size() > kMaxHeld) {
        error = remove(static_cast<size_t>(pick(0, static_cast<int>(held_.size()) - 1)));
      } else if (held_.size() < 2 || dice < 8) {
        error = create();
      } else {
        const size_t which = static_cast<size_t>(pick(0, static_cast<int>(held_.size()) - 1));
        if (dice < 55)
          error = ingest(which);
        else if (dice < 78)
          error = ask(which, false);
        else if (dice < 83)
          error = ask(which, true);
        else if (dice < 92)
          error = fork(which);
        else
          error = remove(which);
      }
      if (!error.empty()) return error;
    }
    return "";
  }

  std::vector<Held>& held() { return held_; }
  std::vector<Unconfirmed>& unconfirmed() { return unconfirmed_; }

 private:
  int pick(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
  bool chance(int percent) { return pick(0, 99) < percent; }
  // RESOURCE_EXHAUSTED (every resident session busy, the queue full): a
  // client waits a little before the next call, as a real one would.
  void back_off() {
    ++figures_.refused;
    std::this_thread::sleep_for(std::chrono::milliseconds(pick(5, 30)));
  }
  std::string new_label() { return std::to_string(index_) + "-" + std::to_string(++labels_); }

  // A deadline: usually generous; for 1 call in `cancel_one_in`, a few ms,
  // which cancels it somewhere on its way.
  std::chrono::system_clock::time_point deadline(int cancel_percent) {
    const auto now = std::chrono::system_clock::now();
    if (chance(cancel_percent)) return now + std::chrono::milliseconds(pick(1, 40));
    return now + 120s;
  }

  // Sessions that cancelled calls made after all, found by their label: one
  // of known document joins the held ones, the others are deleted. Keeps a
  // long soak from piling up sessions no client owns.
  std::string adopt() {
    if (unconfirmed_.empty()) return "";
    std::string token;
    do {
      grpc::ClientContext ctx;
      begin(ctx, std::chrono::system_clock::now() + 120s);
      v1::ListSessionsRequest request;
      request.set_page_size(1000);
      request.set_page_token(token);
      v1::ListSessionsResponse page;
      const grpc::Status s = stub_->ListSessions(&ctx, request, &page);
      if (!s.ok()) return "ListSessions: " + describe(s);
      for (const auto& session : page.sessions()) {
        const auto label = session.labels().find("soak");
        if (label == session.labels().end()) continue;
        const auto u = std::find_if(unconfirmed_.begin(), unconfirmed_.end(),
                                    [&](const Unconfirmed& x) { return x.label == label->second; });
        if (u == unconfirmed_.end()) continue;
        const std::optional<std::string> document = u->document;
        unconfirmed_.erase(u);
        ++figures_.adopted;
        held_.push_back({session.id(), label->second, document.value_or("")});
        if (!document) {
          ++figures_.uncertain_deleted;
          if (std::string error = remove(held_.size() - 1); !error.empty()) return error;
        }
      }
      token = page.next_page_token();
    } while (!token.empty());
    return "";
  }

  std::string create() {
    const std::string label = new_label();
    if (chance(50)) {
      // CreateSession, then maybe a first Ingest on its own.
      grpc::ClientContext ctx;
      begin(ctx, deadline(10));
      v1::CreateSessionRequest request;
      (*request.mutable_labels())["soak"] = label;
      v1::Session session;
      const grpc::Status s = stub_->CreateSession(&ctx, request, &session);
      ++figures_.creates;
      if (cancelled_or_deadline(s)) {
        ++figures_.cancelled;
        unconfirmed_.push_back({label, std::string()});
        return "";
      }
      if (s.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) {
        back_off();
        return "";
      }
      if (!s.ok()) return "CreateSession: " + describe(s);
      held_.push_back({session.id(), label, ""});
      return "";
    }
    // Ingest whose first message creates the session.
    Held fresh{"", label, ""};
    return ingest_into(fresh, /*create=*/true);
  }

  std::string ingest(size_t which) { return ingest_into(held_[which], false, which); }

  // Streams a slice of the text in random chunks; on success the session's
  // document grows by it, otherwise it is unknown and deleted.
  std::string ingest_into(Held& session, bool create, size_t which = 0) {
    // Whole characters: a session's text stays valid UTF-8 (the chunks
    // below still cut inside characters).
    const auto continuation = [&](size_t i) { return (text_[i] & 0xC0) == 0x80; };
    const int most = static_cast<int>(max_document_ / 4);
    size_t start = static_cast<size_t>(pick(0, static_cast<int>(text_.size()) - most - 1));
    size_t end = start + static_cast<size_t>(pick(1, most));
    while (continuation(start)) ++start;
    while (end < text_.size() && continuation(end)) ++end;
    if (end <= start) end = start + 1;
    while (end < text_.size() && continuation(end)) ++end;
    const std::string slice = text_.substr(start, end - start);
    const auto chunks =
        random_chunks(slice, static_cast<size_t>(pick(1, std::min(3000, most))), rng_());
    auto messages = text_messages(create ? "" : session.id, chunks, /*flush=*/false);
    if (create) (*messages.front().mutable_create()->mutable_labels())["soak"] = session.label;

    grpc::ClientContext ctx;
    begin(ctx, deadline(15));
    v1::IngestResponse response;
    auto writer = stub_->Ingest(&ctx, &response);
    for (const auto& m : messages) {
      if (!writer->Write(m)) break;
    }
    writer->WritesDone();
    const grpc::Status s = writer->Finish();
    ++figures_.ingests;
    if (s.ok()) {
      figures_.ingest_bytes += static_cast<int64_t>(slice.size());
      session.document += slice;
      if (create) {
        session.id = response.session().id();
        held_.push_back(session);
      } else if (session.document.size() > max_document_) {
        return remove(which);
      }
      return "";
    }
    if (cancelled_or_deadline(s)) {
      ++figures_.cancelled;
    } else if (s.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) {
      back_off();
    } else {
      return "Ingest: " + describe(s);
    }
    // Some of the chunks may have been read.
    if (create) {
      // A refusal names the session it made; a cancellation cannot.
      const std::string made = session_in(s);
      if (made.empty()) {
        unconfirmed_.push_back({session.label, std::nullopt});
        return "";
      }
      ++figures_.uncertain_deleted;
      held_.push_back({made, session.label, ""});
      return remove(held_.size() - 1);
    }
    ++figures_.uncertain_deleted;
    return remove(which);
  }

  std::string ask(size_t which, bool summarize) {
    const Held& session = held_[which];
    grpc::ClientContext ctx;
    begin(ctx, std::chrono::system_clock::now() + 120s);
    const bool cancel_mid_answer = chance(20);
    std::unique_ptr<grpc::ClientReader<v1::GenerateResponse>> reader;
    v1::GenerationParams params = greedy_params(static_cast<int32_t>(pick(1, 24)));
    if (summarize) {
      v1::SummarizeRequest request;
      request.set_session_id(session.id);
      *request.mutable_params() = params;
      reader = stub_->Summarize(&ctx, request);
      ++figures_.summaries;
    } else {
      v1::AskRequest request;
      request.set_session_id(session.id);
      request.set_question("What happens next?");
      *request.mutable_params() = params;
      reader = stub_->Ask(&ctx, request);
      ++figures_.asks;
    }
    v1::GenerateResponse m;
    bool cancelled = false;
    while (reader->Read(&m)) {
      if (cancel_mid_answer && !cancelled) {
        ctx.TryCancel();
        cancelled = true;
      }
    }
    const grpc::Status s = reader->Finish();
    if (s.ok()) return "";
    if (cancelled && s.error_code() == grpc::StatusCode::CANCELLED) {
      ++figures_.cancelled;
      return "";
    }
    if (s.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) {
      back_off();
      return "";
    }
    return std::string(summarize ? "Summarize: " : "Ask: ") + describe(s);
  }

  std::string fork(size_t which) {
    const Held source = held_[which];
    const std::string label = new_label();
    grpc::ClientContext ctx;
    begin(ctx, deadline(15));
    v1::ForkSessionRequest request;
    request.set_session_id(source.id);
    (*request.mutable_labels())["soak"] = label;
    v1::Session copy;
    const grpc::Status s = stub_->ForkSession(&ctx, request, &copy);
    ++figures_.forks;
    if (s.ok()) {
      held_.push_back({copy.id(), label, source.document});
      return "";
    }
    if (cancelled_or_deadline(s)) {
      ++figures_.cancelled;
      unconfirmed_.push_back({label, source.document});
      return "";
    }
    if (s.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) {
      back_off();
      return "";
    }
    return "ForkSession: " + describe(s);
  }

  // Never cancelled: whether it happened must be known.
  std::string remove(size_t which) {
    grpc::ClientContext ctx;
    begin(ctx, std::chrono::system_clock::now() + 120s);
    v1::DeleteSessionRequest request;
    request.set_session_id(held_[which].id);
    v1::DeleteSessionResponse response;
    const grpc::Status s = stub_->DeleteSession(&ctx, request, &response);
    ++figures_.deletes;
    if (!s.ok()) return "DeleteSession " + held_[which].id + ": " + describe(s);
    held_.erase(held_.begin() + static_cast<std::ptrdiff_t>(which));
    return "";
  }

  std::unique_ptr<v1::LongContext::Stub> stub_;
  const std::string& text_;
  const size_t max_document_;
  const int index_;
  std::mt19937 rng_;
  Figures& figures_;
  std::vector<Held> held_;
  std::vector<Unconfirmed> unconfirmed_;
  int labels_ = 0;
  int64_t ops_ = 0;
};

std::string answer(v1::LongContext::Stub& stub, const std::string& id) {
  const Generation g = ask_raw(stub, id, "What happens next?", greedy_params(kAnswerTokens), 120s);
  if (!g.status.ok()) throw std::runtime_error("Ask " + id + ": " + describe(g.status));
  return g.text;
}

// The answer of a fresh session fed `document` in one piece (deleted after).
std::string replay_answer(v1::LongContext::Stub& stub, const std::string& document) {
  std::string id;
  if (document.empty()) {
    grpc::ClientContext ctx;
    begin(ctx, std::chrono::system_clock::now() + 60s);
    v1::Session s;
    const grpc::Status st = stub.CreateSession(&ctx, v1::CreateSessionRequest(), &s);
    if (!st.ok()) throw std::runtime_error("CreateSession: " + describe(st));
    id = s.id();
  } else {
    const IngestCall call = ingest_raw(stub, text_messages("", {document}, false));
    if (!call.status.ok()) throw std::runtime_error("Ingest: " + describe(call.status));
    id = call.response.session().id();
  }
  const std::string text = answer(stub, id);
  grpc::ClientContext ctx;
  v1::DeleteSessionRequest request;
  request.set_session_id(id);
  v1::DeleteSessionResponse response;
  stub.DeleteSession(&ctx, request, &response);
  return text;
}

TEST(Soak, ManySessionsUnderCancellationsAndEvictionLeakNothingAndAnswerAsReplayed) {
  const int seconds = env_int("INFINI_SOAK_SECONDS", 60);
  const int threads = env_int("INFINI_SOAK_THREADS", 6);
  const int resident = env_int("INFINI_SOAK_RESIDENT_SESSIONS", threads + 2);
  // TSan's shadow memory grows with every address touched: scripts/test --tsan
  // raises this bound.
  const int64_t rss_slack = int64_t{env_int("INFINI_SOAK_RSS_SLACK_MB", 96)} << 20;
  const size_t max_document = static_cast<size_t>(env_int("INFINI_SOAK_DOCUMENT_BYTES", 48 * 1024));

  // One session's state bytes, from a server of the same model.
  int64_t state_bytes = 0;
  {
    auto probe = ServerProcess::start();
    client::InfiniClient c(probe->channel());
    state_bytes = c.create_session().state_bytes();
  }
  ASSERT_GT(state_bytes, 0);
  const int64_t budget = state_bytes * resident;

  TempDir snapshots("infini-soak-snapshots");
  auto server =
      ServerProcess::start({"--snapshot-dir", snapshots.path().string(), "--max-state-bytes",
                            std::to_string(budget), "--queue-capacity", "1024"});
  auto control = v1::LongContext::NewStub(server->channel());
  // Warm up: one session through every call, so that lazily made threads and
  // buffers exist before the figures are taken.
  {
    const std::string warm = replay_answer(*control, make_document(2000, 1));
    ASSERT_FALSE(warm.empty());
  }
  const int fds_start = open_fds(server->pid());
  const int64_t rss_start = server->rss_bytes();

  const std::string text = make_document(256 * 1024, 42);
  Figures figures;
  std::vector<std::unique_ptr<Client>> clients;
  for (int i = 0; i < threads; ++i)
    clients.push_back(std::make_unique<Client>(*server, text, max_document, i, figures));
  std::atomic<bool> stop{false};
  std::vector<std::string> errors(static_cast<size_t>(threads));
  std::vector<std::thread> workers;
  const auto started = std::chrono::steady_clock::now();
  for (int i = 0; i < threads; ++i) {
    workers.emplace_back([&, i] { errors[i] = clients[i]->run(stop); });
  }
  std::this_thread::sleep_for(std::chrono::seconds(seconds));
  stop = true;
  for (auto& w : workers) w.join();
  const double load_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  for (int i = 0; i < threads; ++i) EXPECT_EQ(errors[i], "") << "client " << i;

  // What the clients hold, and what cancelled calls may have made.
  std::map<std::string, const Held*> expected;                    // id -> session
  std::map<std::string, std::optional<std::string>> unconfirmed;  // label -> document
  for (auto& c : clients) {
    for (const auto& h : c->held()) expected[h.id] = &h;
    for (const auto& u : c->unconfirmed()) unconfirmed[u.label] = u.document;
  }

  const auto metrics = scrape(*server);
  client::InfiniClient lister(server->channel());
  std::set<std::string> listed;
  std::vector<std::pair<std::string, std::string>> to_check;  // id, document
  int landed_unconfirmed = 0;
  for (const auto& s : lister.list_all_sessions()) {
    listed.insert(s.id());
    if (auto it = expected.find(s.id()); it != expected.end()) {
      to_check.emplace_back(s.id(), it->second->document);
      continue;
    }
    const auto label = s.labels().find("soak");
    ASSERT_NE(label, s.labels().end()) << "session " << s.id() << " belongs to no client";
    const auto u = unconfirmed.find(label->second);
    ASSERT_NE(u, unconfirmed.end()) << "session " << s.id() << " (label " << label->second
                                    << ") belongs to no client and no cancelled call";
    ++landed_unconfirmed;
    if (u->second) to_check.emplace_back(s.id(), *u->second);
  }
  for (const auto& [id, held] : expected) {
    EXPECT_TRUE(listed.count(id)) << "session " << id << " (label " << held->label << ") lost";
  }

  // Every surviving session whose document is known answers as a replay.
  int mismatches = 0;
  for (const auto& [id, document] : to_check) {
    const std::string got = answer(*control, id);
    const std::string want = replay_answer(*control, document);
    if (got != want) {
      ++mismatches;
      ADD_FAILURE() << "session " << id << " (" << document.size() << " bytes) answers '" << got
                    << "', a replay of its document '" << want << "'";
    }
  }

  // Snapshots: none of a deleted session, no temporary file.
  int snapshot_files = 0;
  for (const auto& e : fs::directory_iterator(snapshots.path())) {
    const std::string name = e.path().filename().string();
    ASSERT_EQ(e.path().extension(), ".snap") << "stray file " << name;
    ++snapshot_files;
    EXPECT_TRUE(listed.count(e.path().stem().string()))
        << "snapshot of a deleted session: " << name << "; the server's log of it:\n"
        << log_lines_with(server->log(), e.path().stem().string());
  }

  // Descriptors and memory: the clients' connections closed, the server
  // should return to where it started (its epoll and listening sockets);
  // closing connections is asynchronous, so give it a few seconds.
  clients.clear();
  int fds_end = open_fds(server->pid());
  for (int i = 0; i < 100 && fds_end > fds_start + kFdSlack; ++i) {
    std::this_thread::sleep_for(100ms);
    fds_end = open_fds(server->pid());
  }
  const int64_t rss_end = server->rss_bytes();
  const auto end_metrics = scrape(*server);
  EXPECT_LE(fds_end, fds_start + kFdSlack);
  EXPECT_LE(rss_end, rss_start + rss_slack);
  EXPECT_EQ(metric_value(end_metrics, "infini_requests_in_flight"), 0.0);
  EXPECT_EQ(metric_value(end_metrics, "infini_sessions_active"),
            static_cast<double>(listed.size()));

  std::printf(
      "[ soak ] %.0f s, %d client threads, budget %lld bytes (%d sessions of %lld)\n"
      "[ soak ] %lld ops: %lld creates, %lld ingests (%.1f MB), %lld asks, %lld summaries, "
      "%lld forks, %lld deletes\n"
      "[ soak ] %lld calls cancelled by the client, %lld refused (RESOURCE_EXHAUSTED), "
      "%lld sessions of unknown content deleted, %lld made by cancelled calls adopted\n"
      "[ soak ] server: %.0f evictions, %.0f reloads; %zu sessions at the end (%d made by "
      "cancelled calls), %d snapshot files; %zu answers checked against a replay, %d differ\n"
      "[ soak ] fds %d -> %d, RSS %.1f -> %.1f MiB (bound +%lld MiB)\n",
      load_seconds, threads, static_cast<long long>(budget), resident,
      static_cast<long long>(state_bytes), static_cast<long long>(figures.ops.load()),
      static_cast<long long>(figures.creates.load()),
      static_cast<long long>(figures.ingests.load()), figures.ingest_bytes.load() / 1e6,
      static_cast<long long>(figures.asks.load()), static_cast<long long>(figures.summaries.load()),
      static_cast<long long>(figures.forks.load()), static_cast<long long>(figures.deletes.load()),
      static_cast<long long>(figures.cancelled.load()),
      static_cast<long long>(figures.refused.load()),
      static_cast<long long>(figures.uncertain_deleted.load()),
      static_cast<long long>(figures.adopted.load()),
      metric_value(metrics, "infini_session_evictions_total"),
      metric_value(metrics, "infini_session_reloads_total"), listed.size(), landed_unconfirmed,
      snapshot_files, to_check.size(), mismatches, fds_start, fds_end, rss_start / 1048576.0,
      rss_end / 1048576.0, static_cast<long long>(rss_slack >> 20));
  std::fflush(stdout);
}

}  // namespace
}  // namespace infini::e2e
