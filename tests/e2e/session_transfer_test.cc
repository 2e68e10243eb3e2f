// ExportSession / ImportSession with the real server: a session exported
// from one server process and imported into another (same model) has the
// counts and labels (under a new id) and answers exactly as the original, now and
// after more text; every bad snapshot gets a clear error naming the reason.
#include "server/sessions/session_snapshot.h"
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
  p.stop = {"\x01never"};  // the random test model: always generate max_tokens
  return p;
}

// The code and message of a failed import of `bytes`, sent in chunks of
// `chunk` bytes through the raw stub.
grpc::Status import_raw(v1::LongContext::Stub& stub, std::string_view bytes,
                        size_t chunk = size_t{1} << 20) {
  grpc::ClientContext context;
  v1::Session session;
  auto writer = stub.ImportSession(&context, &session);
  v1::SnapshotChunk message;
  for (size_t at = 0; at < bytes.size(); at += chunk) {
    message.set_data(std::string(bytes.substr(at, chunk)));
    if (!writer->Write(message)) break;
  }
  writer->WritesDone();
  return writer->Finish();
}

// Re-seals `bytes` (a snapshot) after an edit, as a writer would have.
std::string reseal(std::string bytes) {
  const size_t sealed = bytes.size() - 8;
  const uint64_t sum = server::fnv1a64(std::string_view(bytes).substr(0, sealed));
  std::memcpy(bytes.data() + sealed, &sum, sizeof sum);
  return bytes;
}

class SessionTransferTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    source_ = ServerProcess::start().release();
    target_ = ServerProcess::start().release();
  }
  static void TearDownTestSuite() {
    delete source_;
    delete target_;
  }

  static inline ServerProcess* source_ = nullptr;
  static inline ServerProcess* target_ = nullptr;
};

// Text left pending mid-word and a partial segment: everything travels.
TEST_F(SessionTransferTest, AnImportedSessionAnswersExactlyAsTheOriginal) {
  InfiniClient a(source_->channel());
  InfiniClient b(target_->channel());
  const std::string doc = make_document(30000, 4);
  const size_t cut = 17777;
  IngestOptions first;
  first.labels = {{"team", "search"}};
  first.flush = false;
  const auto ingested = a.ingest(std::string_view(doc).substr(0, cut), first);
  const std::string id = ingested.session().id();
  ASSERT_GT(ingested.session().pending_text_bytes(), 0) << "the cut should leave text pending";
  const std::string answer = a.ask(id, "What is it about?", greedy(12)).text;

  const std::string bytes = a.export_session(id);
  ASSERT_GT(bytes.size(), 100u);
  EXPECT_TRUE(a.export_session(id) == bytes) << "exporting changes nothing";
  const v1::Session imported = b.import_session(bytes);
  const v1::Session original = a.get_session(id);
  // A new id: the snapshot's own is never reused (see ImportSession).
  EXPECT_NE(imported.id(), id);
  EXPECT_EQ(imported.id().size(), 32u);
  const std::string id_b = imported.id();
  EXPECT_EQ(imported.tokens(), original.tokens());
  EXPECT_EQ(imported.segments(), original.segments());
  EXPECT_EQ(imported.pending_text_bytes(), original.pending_text_bytes());
  EXPECT_EQ(imported.labels().at("team"), "search");
  EXPECT_FALSE(imported.evicted());
  EXPECT_EQ(b.ask(id_b, "What is it about?", greedy(12)).text, answer);

  // Both go on reading the rest of the document the same way.
  IngestOptions rest;
  rest.session_id = id;
  rest.chunk_bytes = 3000;
  const auto on_a = a.ingest(std::string_view(doc).substr(cut), rest);
  rest.session_id = id_b;
  const auto on_b = b.ingest(std::string_view(doc).substr(cut), rest);
  EXPECT_EQ(on_b.session().tokens(), on_a.session().tokens());
  EXPECT_EQ(on_b.session().segments(), on_a.session().segments());
  EXPECT_EQ(b.ask(id_b, "And then?", greedy(12)).text, a.ask(id, "And then?", greedy(12)).text);
  EXPECT_EQ(b.summarize(id_b, greedy(10)).text, a.summarize(id, greedy(10)).text);
  // And the session on b holds what the session on a does (only the time
  // of last use differs).
  const std::string identity = server::model_identity(test_model_dir());
  const auto on_a_snapshot = server::decode_snapshot(a.export_session(id), identity);
  const auto on_b_snapshot = server::decode_snapshot(b.export_session(id_b), identity);
  EXPECT_TRUE(on_b_snapshot.state == on_a_snapshot.state);
  EXPECT_EQ(on_b_snapshot.pending_ids, on_a_snapshot.pending_ids);
  EXPECT_EQ(on_b_snapshot.pending_text, on_a_snapshot.pending_text);
  EXPECT_EQ(on_b_snapshot.created_at_ns, on_a_snapshot.created_at_ns);
}

// A snapshot larger than one message travels in chunks of at most 1 MiB,
// and the import takes it in chunks of any size up to that.
TEST_F(SessionTransferTest, LargeSnapshotsTravelInChunksOfAtMostOneMebibyte) {
  InfiniClient a(source_->channel());
  InfiniClient b(target_->channel());
  IngestOptions options;
  options.labels = {{"notes", std::string(1030000, 'n')}};
  const std::string id = a.ingest(make_document(5000, 9), options).session().id();

  auto stub = new_stub(*source_);
  grpc::ClientContext context;
  v1::ExportSessionRequest request;
  request.set_session_id(id);
  auto reader = stub->ExportSession(&context, request);
  std::vector<size_t> sizes;
  std::string bytes;
  v1::SnapshotChunk chunk;
  while (reader->Read(&chunk)) {
    sizes.push_back(chunk.data().size());
    bytes += chunk.data();
  }
  ASSERT_TRUE(reader->Finish().ok());
  ASSERT_EQ(sizes.size(), 2u) << bytes.size() << " bytes";
  EXPECT_EQ(sizes[0], size_t{1} << 20);

  auto target_stub = new_stub(*target_);
  const grpc::Status imported = import_raw(*target_stub, bytes, 65537);
  ASSERT_TRUE(imported.ok()) << describe(imported);
  std::string id_b;  // the import's new id
  for (const auto& s : b.list_all_sessions()) {
    if (s.labels().count("notes")) {
      EXPECT_EQ(s.labels().at("notes").size(), 1030000u);
      EXPECT_TRUE(id_b.empty()) << "two sessions with notes";
      id_b = s.id();
    }
  }
  ASSERT_FALSE(id_b.empty());
  EXPECT_EQ(b.ask(id_b, "Why?", greedy(8)).text, a.ask(id, "Why?", greedy(8)).text);
}

TEST_F(SessionTransferTest, BadSnapshotsAreRefusedWithTheReason) {
  InfiniClient a(source_->channel());
  const std::string id = a.ingest(make_document(6000, 5)).session().id();
  const std::string good = a.export_session(id);
  auto stub = new_stub(*target_);
  InfiniClient b(target_->channel());
  const size_t sessions_before = b.list_all_sessions().size();
  const std::string identity = server::model_identity(test_model_dir());

  auto expect = [&](const std::string& what, std::string_view bytes, grpc::StatusCode code,
                    const std::string& reason, size_t chunk = size_t{1} << 20) {
    const grpc::Status s = import_raw(*stub, bytes, chunk);
    EXPECT_EQ(s.error_code(), code) << what << ": " << describe(s);
    EXPECT_NE(s.error_message().find(reason), std::string::npos) << what << ": " << describe(s);
  };
  expect("empty stream", "", grpc::StatusCode::INVALID_ARGUMENT, "empty ImportSession stream");
  expect("not a snapshot", "hello, world, this is not a snapshot at all",
         grpc::StatusCode::INVALID_ARGUMENT, "not a session snapshot");
  expect("truncated", std::string_view(good).substr(0, good.size() - 100),
         grpc::StatusCode::INVALID_ARGUMENT, "truncated");
  std::string flipped = good;
  flipped[flipped.size() / 2] ^= 0x04;
  expect("bit-flipped", flipped, grpc::StatusCode::INVALID_ARGUMENT, "checksum mismatch");

  server::SessionSnapshot decoded = server::decode_snapshot(good, identity);
  expect("other model", server::encode_snapshot(decoded, "fnv1a64:0123456789abcdef"),
         grpc::StatusCode::FAILED_PRECONDITION, "snapshot is of model fnv1a64:0123456789abcdef");
  std::string future = good;
  const uint32_t version = server::kSnapshotVersion + 1;
  std::memcpy(future.data() + 8, &version, sizeof version);
  expect("future version", reseal(future), grpc::StatusCode::FAILED_PRECONDITION,
         "newer than this server's version");
  // Whole and sealed, but holding what this model's sessions never hold.
  server::SessionSnapshot odd = decoded;
  odd.pending_ids = {1, 2, 1 << 20};
  expect("pending id outside the vocabulary", server::encode_snapshot(odd, identity),
         grpc::StatusCode::INVALID_ARGUMENT, "pending token id 2 = 1048576 is outside");
  odd.pending_ids.assign(64, 1);  // the test model's segment: 64 tokens
  expect("a whole segment pending", server::encode_snapshot(odd, identity),
         grpc::StatusCode::INVALID_ARGUMENT, "64 pending token ids, a segment holds 64");
  decoded.id = "../../etc/passwd";
  expect("hostile id", server::encode_snapshot(decoded, identity),
         grpc::StatusCode::INVALID_ARGUMENT, "session id");

  // Past the largest snapshot this model can produce: refused as it arrives.
  const std::string huge(good.size() + (size_t{3} << 20), 'x');
  expect("too large", huge, grpc::StatusCode::INVALID_ARGUMENT,
         "the largest snapshot this server's model can produce");
  expect("chunk too large", std::string((size_t{1} << 20) + 1, 'x'),
         grpc::StatusCode::INVALID_ARGUMENT, "chunks of at most 1048576", (size_t{1} << 20) + 1);

  // None of these left a session behind on the target.
  EXPECT_EQ(b.list_all_sessions().size(), sessions_before);

  // Importing into the server that holds the snapshot's id (here, its
  // source) neither collides nor tells: a second session, a new id.
  InfiniClient again(source_->channel());
  const v1::Session copy = again.import_session(good);
  EXPECT_NE(copy.id(), id);
  EXPECT_EQ(copy.tokens(), a.get_session(id).tokens());
  try {
    a.export_session("0123456789abcdef0123456789abcdef");
    ADD_FAILURE() << "exported an unknown session";
  } catch (const ClientError& e) {
    EXPECT_EQ(e.code(), grpc::StatusCode::NOT_FOUND) << e.what();
  }
}

// Imports count against the target's limits.
TEST_F(SessionTransferTest, ImportsRespectTheSessionLimit) {
  InfiniClient a(source_->channel());
  const std::string bytes = a.export_session(a.ingest(make_document(3000, 6)).session().id());
  auto full = ServerProcess::start({"--max-sessions", "1"});
  InfiniClient c(full->channel());
  c.create_session();
  try {
    c.import_session(bytes);
    ADD_FAILURE() << "imported past --max-sessions";
  } catch (const ClientError& e) {
    EXPECT_EQ(e.code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << e.what();
  }
}

// With --snapshot-dir the import is durable: it survives a restart. The CLI
// moves a session through a file.
TEST_F(SessionTransferTest, CliExportAndDurableImport) {
  InfiniClient a(source_->channel());
  const std::string id = a.ingest(make_document(9000, 7)).session().id();
  const std::string answer = a.ask(id, "Who?", greedy(10)).text;

  TempDir files("infini-e2e-transfer");
  const fs::path snapshot = files.path() / "session.snap";
  const CommandResult exported =
      run_command({bin_path("infini-client"), "--server", source_->target(), "export", id, "--out",
                   snapshot.string()});
  ASSERT_EQ(exported.exit_code, 0) << exported.output;
  EXPECT_TRUE(read_file(snapshot) == a.export_session(id));
  const CommandResult usage =
      run_command({bin_path("infini-client"), "--server", source_->target(), "export", id});
  EXPECT_EQ(usage.exit_code, 2) << usage.output;
  EXPECT_NE(usage.output.find("--out"), std::string::npos) << usage.output;

  const fs::path dir = files.path() / "snapshots";
  const std::vector<std::string> flags = {"--snapshot-dir", dir.string()};
  std::string new_id;
  {
    auto server = ServerProcess::start(flags);
    const CommandResult imported = run_command(
        {bin_path("infini-client"), "--server", server->target(), "import", snapshot.string()});
    ASSERT_EQ(imported.exit_code, 0) << imported.output;
    const auto listed = InfiniClient(server->channel()).list_all_sessions();
    ASSERT_EQ(listed.size(), 1u);
    new_id = listed[0].id();
    EXPECT_NE(imported.output.find(new_id), std::string::npos) << imported.output;
    EXPECT_TRUE(fs::exists(dir / (new_id + ".snap")));
    kill(-server->pid(), SIGKILL);  // no shutdown write: the import itself was durable
    server->stop();
  }
  auto server = ServerProcess::start(flags);
  InfiniClient c(server->channel());
  EXPECT_EQ(c.ask(new_id, "Who?", greedy(10)).text, answer);

  const fs::path garbage = files.path() / "garbage.snap";
  std::ofstream(garbage) << "not a snapshot";
  const CommandResult bad = run_command(
      {bin_path("infini-client"), "--server", server->target(), "import", garbage.string()});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.output.find("INVALID_ARGUMENT"), std::string::npos) << bad.output;
}

}  // namespace
}  // namespace infini::e2e
