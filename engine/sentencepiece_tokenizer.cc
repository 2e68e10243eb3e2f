#include "engine/sentencepiece_tokenizer.h"

#include <sentencepiece_processor.h>

#include <type_traits>

#include "engine/error.h"

namespace infini {
namespace {

static_assert(std::is_same_v<int, int32_t>,
              "SentencePiece ids are int; we hand them out as int32_t");

constexpr std::string_view kSpaceSymbol = "\xE2\x96\x81";  // U+2581, SentencePiece's space
// After a forced cut this much text stays pending, so that the pieces near the cut
// still see their right-hand context when the text around them is encoded again.
constexpr size_t kForcedCutKeepBytes = 1024;

// ---- The few model settings that decide where text may be cut ----
// libsentencepiece does not install its protobuf headers, so they are read from the
// serialized ModelProto (sentencepiece_model.proto) with a minimal wire-format reader.

constexpr uint64_t kModelTrainerSpec = 2;          // ModelProto.trainer_spec
constexpr uint64_t kModelNormalizerSpec = 3;       // ModelProto.normalizer_spec
constexpr uint64_t kTrainerWhitespaceSuffix = 24;  // TrainerSpec.treat_whitespace_as_suffix
constexpr uint64_t kNormalizerCharsmap = 2;        // NormalizerSpec.precompiled_charsmap
constexpr uint64_t kNormalizerDummyPrefix = 3;     // NormalizerSpec.add_dummy_prefix
constexpr uint64_t kNormalizerRemoveExtra = 4;     // NormalizerSpec.remove_extra_whitespaces
constexpr uint64_t kNormalizerEscape = 5;          // NormalizerSpec.escape_whitespaces

struct ModelSettings {
  bool has_charsmap = false;  // without one the normalizer maps no characters
  bool add_dummy_prefix = true;
  bool remove_extra_whitespaces = true;
  bool escape_whitespaces = true;
  bool treat_whitespace_as_suffix = false;
};

bool read_varint(std::string_view data, size_t& pos, uint64_t& value) {
  value = 0;
  for (int shift = 0; shift < 64 && pos < data.size(); shift += 7) {
    const auto byte = static_cast<uint8_t>(data[pos++]);
    value |= static_cast<uint64_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) return true;
  }
  return false;
}

// Calls visit(field, varint, bytes) for each varint and length-delimited field of a
// message (bytes is empty for a varint); returns false on malformed input.
template <typename Visit>
bool for_each_field(std::string_view message, Visit&& visit) {
  size_t pos = 0;
  while (pos < message.size()) {
    uint64_t key = 0;
    if (!read_varint(message, pos, key)) return false;
    uint64_t value = 0;
    switch (key & 7) {
      case 0:
        if (!read_varint(message, pos, value)) return false;
        visit(key >> 3, value, std::string_view());
        break;
      case 1:
      case 5: {
        const size_t width = (key & 7) == 1 ? 8 : 4;
        if (message.size() - pos < width) return false;
        pos += width;
        break;
      }
      case 2:
        if (!read_varint(message, pos, value) || value > message.size() - pos) return false;
        visit(key >> 3, 0, message.substr(pos, value));
        pos += value;
        break;
      default:
        return false;  // groups: not used by sentencepiece_model.proto
    }
  }
  return true;
}

// Later occurrences of a field override earlier ones, as protobuf parsing does.
bool read_model_settings(std::string_view model_proto, ModelSettings& settings) {
  bool nested_ok = true;
  const bool ok =
      for_each_field(model_proto, [&](uint64_t field, uint64_t, std::string_view bytes) {
        if (field == kModelNormalizerSpec) {
          nested_ok &= for_each_field(bytes, [&](uint64_t f, uint64_t value, std::string_view b) {
            if (f == kNormalizerCharsmap) settings.has_charsmap = !b.empty();
            if (f == kNormalizerDummyPrefix) settings.add_dummy_prefix = value != 0;
            if (f == kNormalizerRemoveExtra) settings.remove_extra_whitespaces = value != 0;
            if (f == kNormalizerEscape) settings.escape_whitespaces = value != 0;
          });
        } else if (field == kModelTrainerSpec) {
          nested_ok &= for_each_field(bytes, [&](uint64_t f, uint64_t value, std::string_view) {
            if (f == kTrainerWhitespaceSuffix) settings.treat_whitespace_as_suffix = value != 0;
          });
        }
      });
  return ok && nested_ok;
}

// A NormalizerSpec with add_dummy_prefix = false, framed as ModelProto.normalizer_spec.
// Appended to a serialized model it overrides that one field: protobuf merges a
// message field that occurs twice.
std::string no_dummy_prefix_override() {
  const char spec[] = {static_cast<char>(kNormalizerDummyPrefix << 3), 0};
  std::string out;
  out.push_back(static_cast<char>(kModelNormalizerSpec << 3 | 2));
  out.push_back(static_cast<char>(sizeof(spec)));
  out.append(spec, sizeof(spec));
  return out;
}

// True when some piece has U+2581 right after a character that is not U+2581: such a
// piece could span a cut made before a whitespace run.
bool has_piece_spanning_word_start(const sentencepiece::SentencePieceProcessor& processor) {
  for (int id = 0; id < processor.GetPieceSize(); ++id) {
    const std::string& piece = processor.IdToPiece(id);
    for (size_t pos = piece.find(kSpaceSymbol, 1); pos != std::string::npos;
         pos = piece.find(kSpaceSymbol, pos + 1)) {
      if (pos < kSpaceSymbol.size() ||
          std::string_view(piece).substr(pos - kSpaceSymbol.size(), kSpaceSymbol.size()) !=
              kSpaceSymbol) {
        return true;
      }
    }
  }
  return false;
}

std::unique_ptr<sentencepiece::SentencePieceProcessor> load_processor(std::string_view serialized,
                                                                      const std::string& path) {
  auto processor = std::make_unique<sentencepiece::SentencePieceProcessor>();
  const auto status = processor->LoadFromSerializedProto(serialized);
  if (!status.ok()) {
    throw EngineError(
        ErrorCode::kCorruptData,
        "SentencePiece model " + path + " is corrupt or not a model: " + status.ToString());
  }
  return processor;
}

bool is_utf8_continuation(char byte) { return (static_cast<uint8_t>(byte) & 0xC0) == 0x80; }

}  // namespace

SentencePieceTokenizer::~SentencePieceTokenizer() = default;

std::shared_ptr<const SentencePieceTokenizer> SentencePieceTokenizer::from_serialized(
    const std::string& serialized, const std::string& model_path) {
  std::shared_ptr<SentencePieceTokenizer> tokenizer(new SentencePieceTokenizer());
  tokenizer->processor_ = load_processor(serialized, model_path);
  ModelSettings settings;
  if (!read_model_settings(serialized, settings)) {
    throw EngineError(ErrorCode::kCorruptData,
                      "SentencePiece model " + model_path + " is not a valid ModelProto");
  }
  // With whitespace as suffix the dummy space goes at the end of the text, where the
  // continuation after a forced cut needs it too.
  tokenizer->continuation_processor_ = load_processor(
      settings.treat_whitespace_as_suffix ? serialized : serialized + no_dummy_prefix_override(),
      model_path);

  // A byte is whitespace when the normalizer turns it into a word boundary exactly
  // as it does a space (nmt_nfkc: \t \n \f \r and space; identity: space only).
  CutRules& rules = tokenizer->cut_rules_;
  const auto reference = tokenizer->encode(std::string_view("x y"));
  for (int byte = 0; byte < 0x80; ++byte) {
    const char between[] = {'x', static_cast<char>(byte), 'y'};
    rules.whitespace[byte] = tokenizer->encode(std::string_view(between, 3)) == reference;
  }

  // Cutting before a whitespace run is exact when no piece spans a word start and
  // text after the cut can be encoded on its own to the same pieces:
  // - remove_extra_whitespaces (the default): the normalizer drops the leading
  //   whitespace and adds the dummy prefix, giving the one U+2581 that whole-text
  //   normalization gives there; trailing whitespace before a cut is dropped too.
  // - whitespace kept (Llama): the text after a cut is encoded without the dummy
  //   prefix, its own spaces becoming U+2581. A cut inside a whitespace run would
  //   split a whitespace-only piece, so a cut needs a byte before it that does not
  //   normalize to a space: any byte without a character map (identity, as in
  //   Llama), only ASCII with one (it may map U+3000 to a space).
  // Other models (whitespace removal without a dummy prefix, whitespace as suffix,
  // unescaped spaces, a piece across a word start) get forced cuts only.
  rules.whitespace_cuts = rules.whitespace[' '] && settings.escape_whitespaces &&
                          !settings.treat_whitespace_as_suffix &&
                          !(settings.remove_extra_whitespaces && !settings.add_dummy_prefix) &&
                          !has_piece_spanning_word_start(*tokenizer->processor_);
  rules.dummy_prefix_after_cut = settings.remove_extra_whitespaces;
  rules.ascii_before_cut = !settings.remove_extra_whitespaces && settings.has_charsmap;
  return tokenizer;
}

std::vector<int32_t> SentencePieceTokenizer::encode_with(
    const sentencepiece::SentencePieceProcessor& processor, std::string_view text) const {
  std::vector<int> ids;
  const auto status = processor.Encode(text, &ids);
  if (!status.ok()) {
    throw EngineError(ErrorCode::kInternal, "SentencePiece encode failed: " + status.ToString());
  }
  return ids;
}

// Control pieces never match text and user-defined pieces always do: both modes
// are the same.
std::vector<int32_t> SentencePieceTokenizer::encode_text(std::string_view text,
                                                         SpecialTokens) const {
  return encode_with(*processor_, text);
}

std::string SentencePieceTokenizer::decode_ids(const std::vector<int32_t>& ids, bool) const {
  const int32_t size = processor_->GetPieceSize();
  for (int32_t id : ids) {
    if (id < 0 || id >= size) {
      throw EngineError(
          ErrorCode::kOutOfRange,
          "token id " + std::to_string(id) + " outside the vocabulary of " + std::to_string(size));
    }
  }
  std::string text;
  const auto status = processor_->Decode(ids, &text);
  if (!status.ok()) {
    throw EngineError(ErrorCode::kInternal, "SentencePiece decode failed: " + status.ToString());
  }
  return text;
}

std::string SentencePieceTokenizer::piece_text(int32_t id) const {
  if (id < 0 || id >= processor_->GetPieceSize()) {
    throw EngineError(ErrorCode::kOutOfRange, "token id " + std::to_string(id) +
                                                  " outside the vocabulary of " +
                                                  std::to_string(processor_->GetPieceSize()));
  }
  if (processor_->IsControl(id)) return "";
  const std::string& piece = processor_->IdToPiece(id);
  if (processor_->IsByte(id)) {
    // "<0xAB>": decoding emits the raw byte.
    return std::string(1, static_cast<char>(std::stoi(piece.substr(3, 2), nullptr, 16)));
  }
  if (processor_->IsUnknown(id)) return " \xE2\x81\x87 ";  // SentencePiece's default unk surface
  std::string text;
  for (size_t pos = 0; pos < piece.size();) {
    if (piece.compare(pos, kSpaceSymbol.size(), kSpaceSymbol) == 0) {
      text.push_back(' ');
      pos += kSpaceSymbol.size();
    } else {
      text.push_back(piece[pos++]);
    }
  }
  return text;
}

int32_t SentencePieceTokenizer::piece_to_id(std::string_view piece) const {
  const int id = processor_->PieceToId(piece);
  // PieceToId answers unk_id for any piece it does not know.
  if (id == processor_->unk_id() && processor_->IdToPiece(id) != piece) return -1;
  return id;
}

int64_t SentencePieceTokenizer::vocab_size() const { return processor_->GetPieceSize(); }
int32_t SentencePieceTokenizer::bos_id() const { return processor_->bos_id(); }
int32_t SentencePieceTokenizer::eos_id() const { return processor_->eos_id(); }

bool SentencePieceTokenizer::is_special(int32_t id) const {
  return id >= 0 && id < processor_->GetPieceSize() && processor_->IsControl(id);
}

std::optional<int32_t> SentencePieceTokenizer::token_id(std::string_view token) const {
  // The processor does not tell user-defined pieces from ordinary ones: any piece.
  const int32_t id = piece_to_id(token);
  if (id < 0) return std::nullopt;
  return id;
}

// ---- StreamingEncoder hooks ----

// The safe cut rule: a cut at i (0 < i) is safe when pending[i] is a whitespace
// byte and pending[i - 1] is not, i.e. just before a whitespace run. Whitespace
// bytes are ASCII, so a cut never falls inside a UTF-8 character. A U+2581 in the
// text counts as whitespace before a cut: escaping turns spaces into that very
// character, so "x\u2581 y" has a whitespace run "\u2581\u2581" that a
// whitespace-only piece may cover (found by tests/fuzz/tokenizer_stream_fuzz.cc).
// Returns 0 when there is no cut at or after `from`.
size_t SentencePieceTokenizer::stream_cut(std::string_view pending, size_t from,
                                          PendingStart) const {
  const CutRules& rules = cut_rules_;
  if (!rules.whitespace_cuts) return 0;
  const size_t lowest = from > 1 ? from : 1;
  for (size_t i = pending.size(); i-- > lowest;) {
    const auto byte = static_cast<uint8_t>(pending[i]);
    const auto before = static_cast<uint8_t>(pending[i - 1]);
    if (rules.whitespace[byte] && !rules.whitespace[before] &&
        (!rules.ascii_before_cut || before < 0x80) &&
        !pending.substr(0, i).ends_with(kSpaceSymbol)) {
      return i;
    }
  }
  return 0;
}

const sentencepiece::SentencePieceProcessor& SentencePieceTokenizer::processor_for(
    std::string_view pending, PendingStart start) const {
  if (start == PendingStart::kDocumentStart) return *processor_;
  // Inside a word nothing may be prepended; text that starts with whitespace
  // (after a whitespace cut, or a forced cut that landed on whitespace) starts a word.
  const bool starts_word =
      !pending.empty() && cut_rules_.whitespace[static_cast<uint8_t>(pending[0])];
  if (start == PendingStart::kInsideWord && !starts_word) return *continuation_processor_;
  return cut_rules_.dummy_prefix_after_cut ? *processor_ : *continuation_processor_;
}

std::vector<int32_t> SentencePieceTokenizer::stream_encode(std::string_view text,
                                                           PendingStart start) const {
  return encode_with(processor_for(text, start), text);
}

// Pending text has outgrown kMaxPendingBytes without a safe cut (a very long run
// without whitespace). Encodes all of it, emits the pieces up to a piece boundary
// about kForcedCutKeepBytes before the end and keeps the rest pending, encoded
// later without a dummy prefix. The ids near the cut may then differ from
// whole-text encoding (a piece that would have spanned the cut is split), but the
// decoded text is unchanged, and memory stays bounded.
size_t SentencePieceTokenizer::stream_force_cut(std::string_view pending, PendingStart start,
                                                std::vector<int32_t>& out) const {
  sentencepiece::ImmutableSentencePieceText text;
  const auto status = processor_for(pending, start).Encode(pending, text.mutable_proto());
  if (!status.ok()) {
    throw EngineError(ErrorCode::kInternal, "SentencePiece encode failed: " + status.ToString());
  }
  const auto pieces = text.pieces();
  // Piece offsets are in the original text. The pieces that one original span
  // becomes (bytes of a character under byte fallback, a ligature's letters) are
  // all empty but the last, so a span ends after a non-empty piece.
  const size_t target =
      pending.size() > kForcedCutKeepBytes ? pending.size() - kForcedCutKeepBytes : 0;
  size_t cut_piece = 0;
  for (size_t k = 1; k < pieces.size(); ++k) {
    const auto& before = pieces[k - 1];
    const size_t cut = pieces[k].begin();
    if (before.begin() >= before.end() || before.end() != cut || cut == 0 ||
        cut >= pending.size() || is_utf8_continuation(pending[cut])) {
      continue;
    }
    if (cut > target && cut_piece > 0) break;
    cut_piece = k;
    if (cut > target) break;
  }
  if (cut_piece == 0) {
    // No piece boundary at all (one span covering everything): emit everything.
    for (const auto& piece : pieces) out.push_back(static_cast<int32_t>(piece.id()));
    return pending.size();
  }
  for (size_t k = 0; k < cut_piece; ++k) out.push_back(static_cast<int32_t>(pieces[k].id()));
  return pieces[cut_piece].begin();
}

}  // namespace infini
