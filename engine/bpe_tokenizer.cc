#include "engine/bpe_tokenizer.h"

#include <algorithm>
#include <utility>

#include "engine/error.h"
#include "engine/utf8_text.h"

namespace infini {
namespace {

// After a forced cut this much text stays pending (see stream_force_cut).
constexpr size_t kForcedCutKeepBytes = 1024;

bool is_continuation(char byte) { return (static_cast<uint8_t>(byte) & 0xC0) == 0x80; }

}  // namespace

BpeTokenizer::BpeTokenizer(Parts parts) : parts_(std::move(parts)) {
  for (size_t id = 0; id < parts_.pieces.size(); ++id) {
    if (!parts_.pieces[id].empty()) piece_ids_.emplace(parts_.pieces[id], static_cast<int32_t>(id));
  }
}

void BpeTokenizer::check_id(int32_t id) const {
  if (id < 0 || static_cast<size_t>(id) >= parts_.pieces.size()) {
    throw EngineError(ErrorCode::kOutOfRange, "token id " + std::to_string(id) +
                                                  " outside the vocabulary of " +
                                                  std::to_string(parts_.pieces.size()));
  }
}

std::string BpeTokenizer::piece_text(int32_t id) const {
  check_id(id);
  if (is_special(id)) return "";
  return decode_tokens(parts_.decoder, {parts_.pieces[static_cast<size_t>(id)]});
}

int32_t BpeTokenizer::piece_to_id(std::string_view piece) const {
  const auto it = piece_ids_.find(std::string(piece));
  return it == piece_ids_.end() ? -1 : it->second;
}

bool BpeTokenizer::is_special(int32_t id) const {
  const AddedToken* token = parts_.added.by_id(id);
  return token != nullptr && token->special;
}

std::optional<int32_t> BpeTokenizer::token_id(std::string_view token) const {
  return parts_.added.id_of(token);
}

std::vector<int32_t> BpeTokenizer::encode_text(std::string_view text,
                                               SpecialTokens specials) const {
  // Hugging Face takes Unicode strings: bytes that are not UTF-8 are read as
  // U+FFFD, as a lossy conversion to a string would.
  std::string repaired;
  if (!utf8::is_valid(text)) {
    repaired = utf8::to_valid(text);
    text = repaired;
  }
  std::vector<int32_t> ids;
  ids.reserve(text.size() / 3 + 1);
  size_t pos = 0;
  for (const AddedTokens::Match& m : parts_.added.find_all(text, specials)) {
    encode_segment(text.substr(pos, m.begin - pos), ids);
    ids.push_back(m.id);
    pos = m.end;
  }
  encode_segment(text.substr(pos), ids);
  return ids;
}

void BpeTokenizer::encode_segment(std::string_view segment, std::vector<int32_t>& out) const {
  if (segment.empty()) return;
  std::string normalized;
  if (parts_.normalizer) {
    normalized = parts_.normalizer->normalize(segment);
    segment = normalized;
  }
  if (!parts_.pre_tokenizer) {
    parts_.model->encode(segment, out);
    return;
  }
  std::vector<Span> pieces;
  parts_.pre_tokenizer->split(segment, {0, segment.size()}, pieces);
  for (const Span& piece : pieces) {
    parts_.model->encode(segment.substr(piece.begin, piece.end - piece.begin), out);
  }
}

std::string BpeTokenizer::decode_ids(const std::vector<int32_t>& ids, bool skip_special) const {
  std::vector<std::string> tokens;
  tokens.reserve(ids.size());
  for (int32_t id : ids) {
    check_id(id);
    if (skip_special && is_special(id)) continue;
    tokens.push_back(parts_.pieces[static_cast<size_t>(id)]);
  }
  return utf8::to_valid(decode_tokens(parts_.decoder, std::move(tokens)));
}

std::vector<Tokenizer::TemplatePart> BpeTokenizer::split_at_added_tokens(
    std::string_view text) const {
  std::vector<TemplatePart> parts;
  size_t pos = 0;
  for (const AddedTokens::Match& m : parts_.added.find_all(text, SpecialTokens::kParse)) {
    if (m.begin > pos) parts.push_back({text.substr(pos, m.begin - pos), -1});
    parts.push_back({std::string_view(), m.id});
    pos = m.end;
  }
  if (pos < text.size()) parts.push_back({text.substr(pos), -1});
  return parts;
}

// ---- StreamingEncoder hooks ----
//
// The cut rule: a cut is safe where whole-text encoding would cut anyway and more
// text cannot change that:
// - after an added token that is complete and cannot grow into a longer one
//   (the text after it is a new segment);
// - inside the last segment, at a pre-token boundary that the pre-tokenizer
//   reports final (its regex reached a verdict without looking at the end of the
//   text: PCRE2's hard partial matching), before the first character of the
//   pre-token that follows it; with a normalizer, only before a character where
//   normalization may cut (NFC: a starter that composes with nothing before it);
// - never inside a possible added token at the end, nor before an incomplete
//   UTF-8 character at the end.
// Text with bytes that are not UTF-8 is not cut until a forced cut.

size_t BpeTokenizer::segment_cut(std::string_view segment) const {
  if (!parts_.pre_tokenizer || segment.empty()) return 0;
  const Normalizer* normalizer = parts_.normalizer.get();
  auto may_cut_before = [&](std::string_view text, size_t pos) {
    if (normalizer == nullptr || pos == 0 || pos >= text.size()) return true;
    const size_t n = utf8::char_length(text, pos);
    return n > 0 && normalizer->boundary_before(utf8::decode(text, pos, n));
  };

  // The normalized text that more text cannot change: up to the last character
  // before which normalization may cut. `marks` pairs offsets in the segment and
  // in that text where both may be cut (empty: the two are the same text).
  std::string normalized;
  std::vector<std::pair<size_t, size_t>> marks;
  std::string_view text = segment;
  if (normalizer != nullptr) {
    size_t stable = 0;
    for (size_t pos = segment.size(); pos-- > 1;) {
      if (!is_continuation(segment[pos]) && may_cut_before(segment, pos)) {
        stable = pos;
        break;
      }
    }
    if (stable == 0) return 0;
    text = segment.substr(0, stable);
    if (normalizer->normalize(text) != text) {
      // Not in normal form: normalize piece by piece between the cut points.
      marks.push_back({0, 0});
      size_t run = 0;
      for (size_t pos = 1; pos <= stable; ++pos) {
        if (pos < stable && (is_continuation(segment[pos]) || !may_cut_before(segment, pos))) {
          continue;
        }
        normalized += normalizer->normalize(segment.substr(run, pos - run));
        marks.push_back({pos, normalized.size()});
        run = pos;
      }
      text = normalized;
    }
  }
  // A cut in `text` -> the segment's offset, or npos where normalization may not cut.
  auto to_segment = [&](size_t cut) -> size_t {
    if (marks.empty()) return may_cut_before(text, cut) ? cut : std::string_view::npos;
    const auto it = std::lower_bound(marks.begin(), marks.end(), cut,
                                     [](const auto& mark, size_t c) { return mark.second < c; });
    return it != marks.end() && it->second == cut ? it->first : std::string_view::npos;
  };

  std::vector<Span> final_pieces;
  bool rest_is_token = false;
  const size_t rest =
      parts_.pre_tokenizer->split_growing(text, {0, text.size()}, final_pieces, &rest_is_token);
  // The pieces before a cut must also be what the text before it gives alone: a
  // piece can depend on what follows it (Llama 3's \s+(?!\S) leaves the last space
  // of a run before a word to the word's side, but takes it at the end of text).
  auto alone_agrees = [&](size_t cut) {
    std::vector<Span> alone;
    parts_.pre_tokenizer->split(text, {0, cut}, alone);
    size_t k = 0;
    for (const Span& piece : final_pieces) {
      if (piece.end > cut) break;
      if (k >= alone.size() || alone[k].begin != piece.begin || alone[k].end != piece.end) {
        return false;
      }
      ++k;
    }
    return k == alone.size();
  };
  std::vector<size_t> candidates{rest};
  for (auto it = final_pieces.rbegin(); it != final_pieces.rend(); ++it) {
    if (it->begin < candidates.back()) candidates.push_back(it->begin);
  }
  for (size_t cut : candidates) {
    if (cut == 0) return 0;
    const size_t at = to_segment(cut);
    if (at != std::string_view::npos && alone_agrees(cut)) return at;
  }
  return 0;
}

size_t BpeTokenizer::stream_cut(std::string_view pending, size_t, PendingStart) const {
  const std::string_view view = pending.substr(0, utf8::complete_prefix(pending));
  if (!utf8::is_valid(view)) return 0;
  const size_t limit = parts_.added.growing_start(view, SpecialTokens::kAsText);
  size_t cut = 0;
  size_t segment_begin = 0;
  size_t segment_end = limit;
  for (const AddedTokens::Match& m : parts_.added.find_all(view, SpecialTokens::kAsText)) {
    // A match up to the end may still take more whitespace (rstrip).
    if (m.end > limit || m.end == view.size()) {
      segment_end = std::min(segment_end, m.begin);
      break;
    }
    cut = segment_begin = m.end;
  }
  if (segment_end > segment_begin) {
    const size_t inside = segment_cut(view.substr(segment_begin, segment_end - segment_begin));
    if (inside > 0) cut = segment_begin + inside;
  }
  return cut;
}

std::vector<int32_t> BpeTokenizer::stream_encode(std::string_view text, PendingStart) const {
  return encode_text(text, SpecialTokens::kAsText);
}

// Pending text has outgrown StreamingEncoder::kMaxPendingBytes without a safe cut
// (one pre-token that long, text not in normal form, or bytes that are not UTF-8).
// Cuts about kForcedCutKeepBytes before the end, before a character where the
// normalizer may cut: the ids near the cut may differ from whole-text encoding,
// the decoded text does not.
size_t BpeTokenizer::stream_force_cut(std::string_view pending, PendingStart,
                                      std::vector<int32_t>& out) const {
  size_t cut = pending.size() > kForcedCutKeepBytes ? pending.size() - kForcedCutKeepBytes : 0;
  auto acceptable = [&](size_t pos) {
    if (is_continuation(pending[pos])) return false;
    if (!parts_.normalizer) return true;
    const size_t n = utf8::char_length(pending, pos);
    return n == 0 || parts_.normalizer->boundary_before(utf8::decode(pending, pos, n));
  };
  while (cut > 0 && !acceptable(cut)) --cut;
  if (cut == 0) cut = pending.size();
  const auto ids = encode_text(pending.substr(0, cut), SpecialTokens::kAsText);
  out.insert(out.end(), ids.begin(), ids.end());
  return cut;
}

}  // namespace infini
