#include "tools/infini/eval_tasks.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <fstream>
#include <stdexcept>

namespace infini::tool {

namespace {

constexpr std::array<std::string_view, 10> kColours = {
    "red", "blue", "green", "yellow", "white", "black", "orange", "purple", "brown", "pink"};
constexpr std::array<std::string_view, 16> kNames = {
    "Anna", "Omar", "Lena", "Ivan", "Maria", "Kenji", "Sara", "Pablo",
    "Nina", "Tom",  "Eva",  "Ali",  "Rosa",  "Yuki",  "Paul", "Mira"};
constexpr std::array<std::string_view, 16> kCities = {
    "Paris", "Rome",  "Oslo",  "Cairo", "Lima", "Tokyo", "Delhi", "Quito",
    "Seoul", "Dakar", "Hanoi", "Riga",  "Bern", "Perth", "Sofia", "Lagos"};

// The evaluation's counts (training draws 2 to 6 needles and 2 to 4 facts).
constexpr int kNeedles = 4;
constexpr int kFacts = 3;

// `count` distinct indices into a list of `size`, in draw order.
std::vector<size_t> distinct(EvalRandom& random, size_t size, int count) {
  std::vector<size_t> pool(size);
  for (size_t i = 0; i < size; ++i) pool[i] = i;
  std::vector<size_t> out;
  for (int k = 0; k < count; ++k) {
    const auto at = static_cast<size_t>(random.integer(0, static_cast<int64_t>(pool.size()) - 1));
    out.push_back(pool[at]);
    pool.erase(pool.begin() + static_cast<std::ptrdiff_t>(at));
  }
  return out;
}

}  // namespace

EvalTask parse_eval_task(const std::string& name) {
  if (name == "passkey") return EvalTask::kPasskey;
  if (name == "needle") return EvalTask::kNeedle;
  if (name == "summary") return EvalTask::kSummary;
  throw std::invalid_argument("unknown task '" + name + "' (expected passkey, needle or summary)");
}

const char* eval_task_name(EvalTask task) {
  switch (task) {
    case EvalTask::kPasskey:
      return "passkey";
    case EvalTask::kNeedle:
      return "needle";
    case EvalTask::kSummary:
      return "summary";
  }
  return "unknown";
}

int64_t parse_token_length(const std::string& text, const std::string& flag) {
  std::string digits = text;
  int64_t scale = 1;
  if (!digits.empty() && (digits.back() == 'k' || digits.back() == 'K')) {
    scale = 1024, digits.pop_back();
  } else if (!digits.empty() && (digits.back() == 'm' || digits.back() == 'M')) {
    scale = 1024 * 1024, digits.pop_back();
  }
  const bool all_digits =
      !digits.empty() && digits.size() <= 12 &&
      std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (!all_digits) {
    throw std::invalid_argument(flag + " expects token lengths like 1k, 64k, 1m or 5000, got '" +
                                text + "'");
  }
  const int64_t value = std::stoll(digits) * scale;
  if (value < 1) throw std::invalid_argument(flag + " lengths must be >= 1, got '" + text + "'");
  return value;
}

std::vector<int64_t> parse_token_lengths(const std::string& list, const std::string& flag) {
  std::vector<int64_t> out;
  size_t from = 0;
  while (true) {
    const size_t comma = list.find(',', from);
    out.push_back(parse_token_length(list.substr(from, comma - from), flag));
    if (comma == std::string::npos) break;
    from = comma + 1;
  }
  return out;
}

std::string format_token_length(int64_t tokens) {
  if (tokens >= 1024 * 1024 && tokens % (1024 * 1024) == 0) {
    return std::to_string(tokens / (1024 * 1024)) + "m";
  }
  if (tokens >= 1024 && tokens % 1024 == 0) return std::to_string(tokens / 1024) + "k";
  return std::to_string(tokens);
}

Filler Filler::repeat() {
  Filler f;
  for (auto s : kRepeatFiller) f.sentences_.emplace_back(s);
  return f;
}

Filler Filler::prose(std::vector<std::string> sentences) {
  Filler f;
  f.prose_ = true;
  for (auto& s : sentences) {
    const auto first = s.find_first_not_of(" \t\r\n");
    if (first == std::string::npos) continue;
    const auto last = s.find_last_not_of(" \t\r\n");
    f.sentences_.push_back(s.substr(first, last - first + 1));
  }
  if (f.sentences_.empty()) throw std::invalid_argument("the prose filler has no sentences");
  return f;
}

Filler Filler::load_prose(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    throw std::invalid_argument("--prose-file: cannot read '" + path +
                                "' (one sentence per line; needed by --filler prose)");
  }
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(std::move(line));
  try {
    return prose(std::move(lines));
  } catch (const std::invalid_argument&) {
    throw std::invalid_argument("--prose-file: '" + path + "' holds no sentences");
  }
}

EvalRandom::EvalRandom(uint64_t seed, EvalTask task, int64_t length, int64_t trial) {
  const auto len = static_cast<uint64_t>(length);
  std::seed_seq seq{static_cast<uint32_t>(seed),      static_cast<uint32_t>(seed >> 32),
                    static_cast<uint32_t>(task),      static_cast<uint32_t>(len),
                    static_cast<uint32_t>(len >> 32), static_cast<uint32_t>(trial)};
  rng_.seed(seq);
}

int64_t EvalRandom::integer(int64_t lo, int64_t hi) {
  // Modulo of a 64-bit draw: the bias, span / 2^64, is far below anything measured.
  const auto span = static_cast<uint64_t>(hi - lo) + 1;
  return lo + static_cast<int64_t>(rng_() % span);
}

double EvalRandom::unit() { return static_cast<double>(rng_() >> 11) * 0x1.0p-53; }

double trial_depth(int64_t trial, int64_t trials) {
  return (static_cast<double>(trial) + 0.5) / static_cast<double>(trials);
}

int depth_bucket(double depth) { return std::clamp(static_cast<int>(depth * 5.0), 0, 4); }

int64_t depth_position(double depth, int64_t filler_sentences) {
  // round() with halves up (Python's round() takes halves to even; the
  // training recipe's depths are random, so no tie is ever shared).
  const auto p =
      static_cast<int64_t>(std::floor(depth * static_cast<double>(filler_sentences) + 0.5));
  return std::clamp<int64_t>(p, 0, filler_sentences);
}

std::string trim_answer(std::string_view generated) {
  const auto first = generated.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return {};
  const auto last = generated.find_last_not_of(" \t\r\n");
  return std::string(generated.substr(first, last - first + 1));
}

int64_t facts_in_place(std::string_view generated, const std::vector<std::string>& facts) {
  int64_t matched = 0;
  size_t from = 0;
  for (const auto& fact : facts) {
    const size_t stop = generated.find('.', from);
    if (stop == std::string_view::npos) break;
    if (trim_answer(generated.substr(from, stop + 1 - from)) == fact) ++matched;
    from = stop + 1;
  }
  return matched;
}

int64_t chars_in_place(std::string_view generated, std::string_view expected) {
  int64_t matched = 0;
  for (size_t i = 0; i < expected.size() && i < generated.size(); ++i) {
    matched += generated[i] == expected[i];
  }
  return matched;
}

EvalDocuments::EvalDocuments(std::shared_ptr<const Tokenizer> tokenizer,
                             std::string document_prefix, Filler filler)
    : tokenizer_(std::move(tokenizer)),
      document_prefix_(std::move(document_prefix)),
      filler_(std::move(filler)) {
  head_tokens_ =
      static_cast<int64_t>(tokenizer_->encode(document_prefix_ + std::string(kInstruction)).size());
  filler_token_counts_.reserve(filler_.size());
  for (size_t i = 0; i < filler_.size(); ++i) {
    filler_token_counts_.push_back(static_cast<int32_t>(sentence_tokens(filler_.sentence(i))));
  }
}

int64_t EvalDocuments::sentence_tokens(const std::string& sentence) const {
  // SentencePiece pieces do not cross whitespace, and the dummy prefix stands
  // for the space that joins the sentence to what comes before it.
  return static_cast<int64_t>(tokenizer_->encode(sentence).size());
}

int64_t EvalDocuments::filler_tokens(size_t index) const {
  return filler_token_counts_[index % filler_token_counts_.size()];
}

int64_t EvalDocuments::filler_count(int64_t length, int64_t task_tokens, size_t start,
                                    int64_t* total_tokens) const {
  int64_t total = head_tokens_ + task_tokens;
  int64_t count = 0;
  // Add whole sentences while each brings the total nearer to `length`.
  while (true) {
    const int64_t next = filler_tokens(start + static_cast<size_t>(count));
    if (2 * (length - total) <= next) break;
    total += next;
    ++count;
  }
  *total_tokens = total;
  return count;
}

std::string EvalDocuments::assemble(size_t start, int64_t filler,
                                    std::vector<Insert> inserts) const {
  std::stable_sort(inserts.begin(), inserts.end(),
                   [](const Insert& a, const Insert& b) { return a.position < b.position; });
  // Sized once: a 1M-token document is a few MB, appended without copies.
  size_t bytes = kInstruction.size() + 1;
  for (const auto& in : inserts) bytes += in.sentence.size() + 1;
  const auto cycle = static_cast<int64_t>(filler_.size());
  for (int64_t i = 0; i < std::min(filler, cycle); ++i) {
    const int64_t times = (filler - i + cycle - 1) / cycle;  // sentence i, i + cycle, ...
    bytes +=
        static_cast<size_t>(times) * (filler_.sentence(start + static_cast<size_t>(i)).size() + 1);
  }
  std::string doc;
  doc.reserve(bytes);
  doc.append(kInstruction);
  auto add = [&doc](const std::string& sentence) {
    doc.push_back(' ');
    doc.append(sentence);
  };
  size_t next = 0;
  for (int64_t i = 0; i <= filler; ++i) {
    while (next < inserts.size() && inserts[next].position == i) add(inserts[next++].sentence);
    if (i < filler) add(filler_.sentence(start + static_cast<size_t>(i)));
  }
  return doc;
}

EvalCase EvalDocuments::make(EvalTask task, int64_t length, int64_t trial, int64_t trials,
                             uint64_t seed) const {
  EvalRandom random(seed, task, length, trial);
  return make_at(task, length, trial_depth(trial, trials), random);
}

EvalCase EvalDocuments::make_at(EvalTask task, int64_t length, double depth,
                                EvalRandom& random) const {
  EvalCase c;
  c.depth = depth;
  // The task's sentences; the first is the one placed at `depth`.
  std::vector<std::string> sentences;
  switch (task) {
    case EvalTask::kPasskey: {
      const std::string key = std::to_string(random.integer(10000, 99999));
      sentences.push_back("The pass key is " + key + ". Remember it. " + key + " is the pass key.");
      c.question = "What is the pass key?";
      c.answer = key;
      break;
    }
    case EvalTask::kNeedle: {
      const auto colours = distinct(random, kColours.size(), kNeedles);
      std::vector<std::string> codes;
      for (int k = 0; k < kNeedles; ++k) {
        codes.push_back(std::to_string(random.integer(1000, 9999)));
      }
      const auto asked = static_cast<size_t>(random.integer(0, kNeedles - 1));
      const std::string colour(kColours[colours[asked]]);
      sentences.push_back("The code of the " + colour + " door is " + codes[asked] + ".");
      for (size_t k = 0; k < static_cast<size_t>(kNeedles); ++k) {
        if (k == asked) continue;
        sentences.push_back("The code of the " + std::string(kColours[colours[k]]) + " door is " +
                            codes[k] + ".");
      }
      c.question = "What is the code of the " + colour + " door?";
      c.answer = codes[asked];
      break;
    }
    case EvalTask::kSummary: {
      const auto names = distinct(random, kNames.size(), kFacts);
      for (int k = 0; k < kFacts; ++k) {
        const std::string city(kCities[static_cast<size_t>(
            random.integer(0, static_cast<int64_t>(kCities.size()) - 1))]);
        sentences.push_back("Key fact: " + std::string(kNames[names[k]]) + " lives in " + city +
                            ".");
      }
      break;
    }
  }

  const size_t start =
      filler_.is_prose()
          ? static_cast<size_t>(random.integer(0, static_cast<int64_t>(filler_.size()) - 1))
          : 0;
  int64_t task_tokens = 0;
  for (const auto& s : sentences) task_tokens += sentence_tokens(s);
  const int64_t filler = filler_count(length, task_tokens, start, &c.estimated_tokens);
  c.filler_sentences = filler;

  std::vector<Insert> inserts;
  const int64_t first = depth_position(depth, filler);
  inserts.push_back({first, sentences[0]});
  std::vector<int64_t> others;
  for (size_t k = 1; k < sentences.size(); ++k) {
    // Needles elsewhere at random depths; summary facts spread after the first.
    others.push_back(task == EvalTask::kSummary ? random.integer(first, filler)
                                                : random.integer(0, filler));
  }
  if (task == EvalTask::kSummary) std::sort(others.begin(), others.end());
  for (size_t k = 1; k < sentences.size(); ++k) inserts.push_back({others[k - 1], sentences[k]});

  if (task == EvalTask::kSummary) {
    // Positions are sorted and ties keep list order, so this is document order.
    for (const auto& s : sentences) {
      c.facts.push_back(s.substr(std::string_view("Key fact: ").size()));
      c.answer += (c.answer.empty() ? "" : " ") + c.facts.back();
    }
  }
  c.document = assemble(start, filler, std::move(inserts));
  return c;
}

}  // namespace infini::tool
