// The documents of `infini eval` follow docs/demo-tasks.md to the character:
// the contract with the training recipe. The literals below are copied from
// that page, not from the code under test.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <map>
#include <regex>
#include <set>

#include "tests/engine/test_support.h"
#include "tools/infini/eval_tasks.h"

namespace infini::tool {
namespace {

using infini::testing::TempDir;

const std::string kTokenizer = std::string(INFINI_TEST_DATA_DIR) + "/tokenizer/tokenizer.model";
const std::string kPrefix = "<doc>";
const std::string kDocInstruction =
    "There is an important info hidden inside a lot of irrelevant text. Find it and memorize "
    "them. I will quiz you about the important information there.";
const std::vector<std::string> kDocFiller = {"The grass is green.", "The sky is blue.",
                                             "The sun is yellow.", "Here we go.",
                                             "There and back again."};

std::shared_ptr<const Tokenizer> tokenizer() {
  static auto t = Tokenizer::load(kTokenizer);
  return t;
}

EvalDocuments repeat_documents() { return EvalDocuments(tokenizer(), kPrefix, Filler::repeat()); }

// The sentences after the instruction, split at ". " boundaries (every
// sentence of these documents ends with '.', none holds ". " inside except
// the passkey's, which the callers account for).
std::string after_instruction(const std::string& doc) {
  EXPECT_EQ(doc.rfind(kDocInstruction + " ", 0), 0u) << doc.substr(0, 200);
  return doc.substr(kDocInstruction.size() + 1);
}

// Number of filler sentences before `sentence` in the document.
int64_t filler_before(const std::string& doc, const std::string& sentence,
                      int64_t other_task_sentences_before = 0) {
  const std::string body = after_instruction(doc);
  const auto at = body.find(sentence);
  EXPECT_NE(at, std::string::npos) << sentence;
  return std::count(body.begin(), body.begin() + static_cast<std::ptrdiff_t>(at), '.') -
         other_task_sentences_before;
}

TEST(EvalTasksTest, ParsesLengthsAndTasks) {
  EXPECT_EQ(parse_token_length("1k", "--lengths"), 1024);
  EXPECT_EQ(parse_token_length("64k", "--lengths"), 65536);
  EXPECT_EQ(parse_token_length("1m", "--lengths"), 1048576);
  EXPECT_EQ(parse_token_length("5000", "--lengths"), 5000);
  EXPECT_EQ(parse_token_lengths("1k,8k,32k,128k,1m", "--lengths"),
            (std::vector<int64_t>{1024, 8192, 32768, 131072, 1048576}));
  for (const char* bad : {"12q", "", "k", "0", "-1k", "1.5k", "1kk"}) {
    try {
      parse_token_length(bad, "--lengths");
      ADD_FAILURE() << "accepted '" << bad << "'";
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find("--lengths"), std::string::npos) << e.what();
    }
  }
  EXPECT_THROW(parse_token_lengths("1k,,2k", "--lengths"), std::invalid_argument);
  EXPECT_EQ(format_token_length(1024), "1k");
  EXPECT_EQ(format_token_length(1048576), "1m");
  EXPECT_EQ(format_token_length(5000), "5000");
  EXPECT_EQ(parse_eval_task("passkey"), EvalTask::kPasskey);
  EXPECT_EQ(parse_eval_task("needle"), EvalTask::kNeedle);
  EXPECT_EQ(parse_eval_task("summary"), EvalTask::kSummary);
  EXPECT_THROW(parse_eval_task("Passkey"), std::invalid_argument);
}

TEST(EvalTasksTest, DepthsAndBuckets) {
  EXPECT_DOUBLE_EQ(trial_depth(0, 20), 0.025);
  EXPECT_DOUBLE_EQ(trial_depth(19, 20), 0.975);
  EXPECT_DOUBLE_EQ(trial_depth(0, 1), 0.5);
  EXPECT_EQ(depth_bucket(0.0), 0);
  EXPECT_EQ(depth_bucket(0.199), 0);
  EXPECT_EQ(depth_bucket(0.2), 1);
  EXPECT_EQ(depth_bucket(0.975), 4);
  EXPECT_EQ(depth_bucket(1.0), 4);
  EXPECT_EQ(depth_position(0.0, 100), 0);
  EXPECT_EQ(depth_position(1.0, 100), 100);
  EXPECT_EQ(depth_position(0.254, 100), 25);
  EXPECT_EQ(depth_position(0.256, 100), 26);
  // Twenty trials fill the five buckets evenly.
  int counts[5] = {};
  for (int i = 0; i < 20; ++i) ++counts[depth_bucket(trial_depth(i, 20))];
  for (int c : counts) EXPECT_EQ(c, 4);
}

TEST(EvalTasksTest, PasskeyDocumentIsTheDocumentedText) {
  const auto docs = repeat_documents();
  const EvalCase c = docs.make(EvalTask::kPasskey, 1024, 1, 4, 7);
  ASSERT_TRUE(std::regex_match(c.answer, std::regex("[1-9][0-9]{4}"))) << c.answer;
  const int key = std::stoi(c.answer);
  EXPECT_GE(key, 10000);
  EXPECT_LE(key, 99999);
  EXPECT_EQ(c.question, "What is the pass key?");
  EXPECT_DOUBLE_EQ(c.depth, 0.375);
  const std::string sentence =
      "The pass key is " + c.answer + ". Remember it. " + c.answer + " is the pass key.";
  EXPECT_NE(c.document.find(" " + sentence + " "), std::string::npos);
  // DOCUMENT = INSTRUCTION + " " + sentences joined by single spaces, and
  // the repeat filler starts with the first of the five.
  EXPECT_EQ(c.document.rfind(kDocInstruction + " The grass is green. The sky is blue.", 0), 0u);
  EXPECT_EQ(c.document.find("  "), std::string::npos);
  EXPECT_NE(c.document.back(), ' ');
  EXPECT_TRUE(c.facts.empty());
}

TEST(EvalTasksTest, RepeatFillerIsTheFiveSentencesInOrder) {
  const auto docs = repeat_documents();
  for (const double depth : {0.0, 0.3, 1.0}) {
    EvalRandom random(3);
    const EvalCase c = docs.make_at(EvalTask::kPasskey, 2048, depth, random);
    // Take the task sentence out: what is left is the filler, whole and in order.
    const std::string sentence =
        "The pass key is " + c.answer + ". Remember it. " + c.answer + " is the pass key.";
    std::string body = after_instruction(c.document);
    const auto at = body.find(sentence);
    ASSERT_NE(at, std::string::npos);
    body.erase(at, sentence.size() + (at + sentence.size() < body.size() ? 1 : 0));
    if (!body.empty() && body.back() == ' ') body.pop_back();
    std::string expected;
    for (int64_t i = 0; i < c.filler_sentences; ++i) {
      expected += (i ? " " : "") + kDocFiller[static_cast<size_t>(i % 5)];
    }
    EXPECT_EQ(body, expected) << "depth " << depth;
  }
}

TEST(EvalTasksTest, TaskSentenceGoesBeforeFillerSentenceRoundDepthTimesF) {
  const auto docs = repeat_documents();
  for (const double depth : {0.0, 0.025, 0.5, 0.61, 0.975, 1.0}) {
    EvalRandom random(11);
    const EvalCase c = docs.make_at(EvalTask::kPasskey, 4096, depth, random);
    const std::string sentence = "The pass key is " + c.answer + ".";
    const int64_t expected = static_cast<int64_t>(std::floor(depth * c.filler_sentences + 0.5));
    EXPECT_EQ(filler_before(c.document, sentence), expected) << "depth " << depth;
    if (depth == 1.0) {
      EXPECT_TRUE(c.document.ends_with(c.answer + " is the pass key.")) << "after the last";
    }
  }
}

TEST(EvalTasksTest, LengthWithinTwoPercentOfTheTokensTheServerReads) {
  TempDir dir;
  {
    std::ofstream prose(dir.file("prose.txt"));
    prose << "Maintainers should keep a list of the contributors.\n\n"
             "Release often, and say what changed in the NEWS file.  \r\n"
             "Answer bug reports promptly, even when the answer is that you cannot fix them.\n"
             "Keep the copyright notices of every file up to date.\n";
  }
  for (const bool prose : {false, true}) {
    const EvalDocuments docs(tokenizer(), kPrefix,
                             prose ? Filler::load_prose(dir.file("prose.txt")) : Filler::repeat());
    for (const auto task : {EvalTask::kPasskey, EvalTask::kNeedle, EvalTask::kSummary}) {
      for (const int64_t length : {1024, 8192, 32768}) {
        const EvalCase c = docs.make(task, length, 0, 3, 1);
        const auto actual = static_cast<int64_t>(tokenizer()->encode(kPrefix + c.document).size());
        EXPECT_LE(std::abs(actual - length), length / 50)
            << eval_task_name(task) << " " << length << (prose ? " prose" : " repeat");
        EXPECT_LE(std::abs(actual - c.estimated_tokens), length / 50);
      }
    }
  }
}

TEST(EvalTasksTest, ReproducibleFromTheSeed) {
  const auto docs = repeat_documents();
  for (const auto task : {EvalTask::kPasskey, EvalTask::kNeedle, EvalTask::kSummary}) {
    const EvalCase a = docs.make(task, 1024, 2, 5, 9);
    const EvalCase b = docs.make(task, 1024, 2, 5, 9);
    EXPECT_EQ(a.document, b.document);
    EXPECT_EQ(a.question, b.question);
    EXPECT_EQ(a.answer, b.answer);
    // Another seed, trial or length draws another case.
    EXPECT_NE(docs.make(task, 1024, 2, 5, 10).answer, a.answer);
    EXPECT_NE(docs.make(task, 1024, 3, 5, 9).answer, a.answer);
    EXPECT_NE(docs.make(task, 2048, 2, 5, 9).answer, a.answer);
  }
  // The draws are the generator's own, not the standard library's
  // distributions: pinned so that a library change cannot move them.
  EvalRandom r(1, EvalTask::kPasskey, 1024, 0);
  std::vector<int64_t> draws;
  for (int i = 0; i < 4; ++i) draws.push_back(r.integer(10000, 99999));
  EXPECT_EQ(draws, (std::vector<int64_t>{57523, 43716, 38359, 69992}));
}

TEST(EvalTasksTest, NeedlesHaveDistinctColoursAndTheAskedOneIsAtTheDepth) {
  const auto docs = repeat_documents();
  const std::set<std::string> palette = {"red",   "blue",   "green",  "yellow", "white",
                                         "black", "orange", "purple", "brown",  "pink"};
  const std::regex needle("The code of the ([a-z]+) door is ([0-9]+)\\.");
  for (int64_t trial = 0; trial < 10; ++trial) {
    const EvalCase c = docs.make(EvalTask::kNeedle, 2048, trial, 10, 1);
    std::set<std::string> colours;
    std::map<std::string, std::string> codes;
    for (std::sregex_iterator it(c.document.begin(), c.document.end(), needle), end; it != end;
         ++it) {
      const std::string colour = (*it)[1], code = (*it)[2];
      EXPECT_TRUE(palette.count(colour)) << colour;
      EXPECT_TRUE(colours.insert(colour).second) << "colour twice: " << colour;
      EXPECT_GE(std::stoi(code), 1000);
      EXPECT_LE(std::stoi(code), 9999);
      EXPECT_EQ(code.size(), 4u);
      codes[colour] = code;
    }
    EXPECT_EQ(colours.size(), 4u);
    std::smatch asked;
    ASSERT_TRUE(
        std::regex_match(c.question, asked, std::regex("What is the code of the ([a-z]+) door\\?")))
        << c.question;
    ASSERT_TRUE(codes.count(asked[1]));
    EXPECT_EQ(c.answer, codes[asked[1]]);
    // The asked needle sits before filler sentence round(depth x F); needles
    // before it are task sentences, not filler.
    const std::string sentence =
        "The code of the " + std::string(asked[1]) + " door is " + c.answer + ".";
    const auto at = c.document.find(sentence);
    int64_t needles_before = 0;
    for (std::sregex_iterator
             it(c.document.begin(), c.document.begin() + static_cast<std::ptrdiff_t>(at), needle),
         end;
         it != end; ++it) {
      ++needles_before;
    }
    EXPECT_EQ(filler_before(c.document, sentence, needles_before),
              depth_position(trial_depth(trial, 10), c.filler_sentences));
  }
}

TEST(EvalTasksTest, SummaryAnswerListsTheFactsInDocumentOrder) {
  const auto docs = repeat_documents();
  const std::regex fact("Key fact: ([A-Za-z]+) lives in ([A-Za-z]+)\\.");
  const std::set<std::string> names = {"Anna", "Omar",  "Lena", "Ivan", "Maria", "Kenji",
                                       "Sara", "Pablo", "Nina", "Tom",  "Eva",   "Ali",
                                       "Rosa", "Yuki",  "Paul", "Mira"};
  const std::set<std::string> cities = {"Paris", "Rome",  "Oslo",  "Cairo", "Lima",  "Tokyo",
                                        "Delhi", "Quito", "Seoul", "Dakar", "Hanoi", "Riga",
                                        "Bern",  "Perth", "Sofia", "Lagos"};
  for (int64_t trial = 0; trial < 10; ++trial) {
    const EvalCase c = docs.make(EvalTask::kSummary, 2048, trial, 10, 4);
    EXPECT_TRUE(c.question.empty());
    std::vector<std::string> in_order;
    std::set<std::string> seen;
    for (std::sregex_iterator it(c.document.begin(), c.document.end(), fact), end; it != end;
         ++it) {
      EXPECT_TRUE(names.count((*it)[1])) << (*it)[1];
      EXPECT_TRUE(cities.count((*it)[2])) << (*it)[2];
      EXPECT_TRUE(seen.insert((*it)[1]).second) << "name twice";
      in_order.push_back(std::string((*it)[1]) + " lives in " + std::string((*it)[2]) + ".");
    }
    ASSERT_EQ(in_order.size(), 3u);
    EXPECT_EQ(c.facts, in_order);
    EXPECT_EQ(c.answer, in_order[0] + " " + in_order[1] + " " + in_order[2]);
    // The trial's depth is the first fact's.
    EXPECT_EQ(filler_before(c.document, "Key fact: " + in_order[0]),
              depth_position(trial_depth(trial, 10), c.filler_sentences));
  }
}

TEST(EvalTasksTest, ProseFillerReadsConsecutiveLinesAndWraps) {
  std::vector<std::string> lines;
  for (int i = 0; i < 7; ++i) lines.push_back("Line number " + std::to_string(i) + " is here.");
  const EvalDocuments docs(tokenizer(), kPrefix, Filler::prose(lines));
  std::set<int> starts;
  for (int64_t trial = 0; trial < 6; ++trial) {
    const EvalCase c = docs.make(EvalTask::kPasskey, 1024, trial, 6, 2);
    const std::regex line("Line number ([0-9]) is here\\.");
    std::vector<int> order;
    for (std::sregex_iterator it(c.document.begin(), c.document.end(), line), end; it != end;
         ++it) {
      order.push_back(std::stoi((*it)[1]));
    }
    ASSERT_EQ(static_cast<int64_t>(order.size()), c.filler_sentences);
    for (size_t i = 1; i < order.size(); ++i) EXPECT_EQ(order[i], (order[i - 1] + 1) % 7);
    starts.insert(order[0]);
  }
  EXPECT_GT(starts.size(), 1u) << "a random starting line";
}

TEST(EvalTasksTest, ProseFileErrorsNameTheFlag) {
  TempDir dir;
  try {
    Filler::load_prose(dir.file("missing.txt"));
    ADD_FAILURE() << "no error for a missing file";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("--prose-file"), std::string::npos) << e.what();
  }
  std::ofstream(dir.file("blank.txt")) << "\n  \n";
  EXPECT_THROW(Filler::load_prose(dir.file("blank.txt")), std::invalid_argument);
}

TEST(EvalTasksTest, AnswersAreTrimmedAndFactsCountedInPlace) {
  EXPECT_EQ(trim_answer("  12345 \n"), "12345");
  EXPECT_EQ(trim_answer(" \t"), "");
  const std::vector<std::string> facts = {"Anna lives in Paris.", "Tom lives in Rome.",
                                          "Eva lives in Oslo."};
  EXPECT_EQ(facts_in_place("Anna lives in Paris. Tom lives in Rome. Eva lives in Oslo.", facts), 3);
  EXPECT_EQ(chars_in_place("71432", "71432"), 5);
  EXPECT_EQ(chars_in_place("71342", "71432"), 3);
  EXPECT_EQ(chars_in_place("714", "71432"), 3);
  EXPECT_EQ(chars_in_place("7143299", "71432"), 5);
  EXPECT_EQ(chars_in_place("", "71432"), 0);
  EXPECT_EQ(facts_in_place("Anna lives in Paris. Eva lives in Oslo. Tom lives in Rome.", facts), 1);
  EXPECT_EQ(facts_in_place("Bob lives in Paris. Tom lives in Rome.", facts), 1);
  EXPECT_EQ(facts_in_place("", facts), 0);
}

TEST(EvalTasksTest, MillionTokenDocumentIsBuiltWithoutQuadraticWork) {
  const auto docs = repeat_documents();
  const auto start = std::chrono::steady_clock::now();
  const EvalCase c = docs.make(EvalTask::kNeedle, 1048576, 0, 1, 1);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_LT(seconds, 5.0);
  EXPECT_LE(std::abs(c.estimated_tokens - 1048576), 1048576 / 50);
  EXPECT_GT(c.document.size(), 2u * 1024 * 1024);
}

}  // namespace
}  // namespace infini::tool
