// What a Hugging Face checkpoint directory says about chat, read from the
// files transformers writes (and `infini convert` copies):
//   chat_template.jinja     the template (newer transformers), else
//   tokenizer_config.json   "chat_template" (a string, or a list of {name,
//                           template} of which "default" is used), bos_token,
//                           eos_token and the other special tokens (a string or
//                           {"content": ...}), added_tokens_decoder (id -> token)
//   generation_config.json  eos_token_id: an id or a list of ids
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "engine/chat_template/chat_template.h"

namespace infini {

struct ChatConfig {
  std::optional<ChatTemplate> chat_template;  // none: the checkpoint has no template
  std::string bos_token;                      // "" when the config has none
  std::string eos_token;
  // Every special token the config names (bos, eos, pad, unk...), passed to
  // the template as transformers passes its special_tokens_map.
  std::map<std::string, std::string> special_tokens;
  // added_tokens_decoder: content -> id, for tokens whose "special" is true.
  std::map<std::string, int32_t> added_special_tokens;
  // generation_config.json's eos_token_id, in its order.
  std::vector<int32_t> generation_eos_ids;

  // Reads the files of `model_dir` that exist; none of them is required.
  // Throws EngineError naming the file and key: kCorruptData for a file that
  // is not JSON, kInvalidArgument for a key of the wrong shape or a template
  // that does not parse (with its line).
  static ChatConfig load(const std::string& model_dir);
};

}  // namespace infini
