// How a question or a summary request continues a document's token stream.
//
// Two sources, the first that applies:
//   1. prompt_template.json in the model directory with any of
//      document_prefix / question / summary: those strings (the demo model's
//      way; missing keys get the defaults below).
//   2. The checkpoint's Hugging Face chat template (chat_config.h): the
//      conversation [system?] + user(DOCUMENT + "\n\n" + QUESTION) rendered
//      with add_generation_prompt, exactly as apply_chat_template renders it,
//      cut at the document and the question: the document prefix is what
//      comes before the document, the question's pieces what comes after.
//      prompt_template.json may still set system_prompt, summary_instruction
//      and template_variables (e.g. {"enable_thinking": false}) for it.
//   3. Otherwise the defaults below.
// Template text is encoded with special-token strings read as tokens
// (StreamingEncoder::push_template); the document and the question never
// are (push): a question cannot forge "<|im_start|>".
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/tokenizer.h"

namespace infini {

struct PromptPiece {
  std::string text;
  bool is_template = true;  // false: user text, special-token strings stay text
};

struct PromptTemplate {
  std::string document_prefix;                               // before the first chunk
  std::string question = "\nQuestion: {question}\nAnswer:";  // {question} is replaced
  std::string summary = "\nSummary:";
  std::vector<std::string> stop = {"\n"};

  // Set when the prompt comes from the checkpoint's chat template.
  bool from_chat_template = false;
  std::string question_lead;    // between the document and the question
  std::string question_tail;    // after the question: end of turn, the generation prompt
  std::string summary_tail;     // after the document: lead, instruction, generation prompt
  bool trims_question = false;  // the template strips the message's trailing whitespace
  // Token ids that end generation (finish reason "stop", never emitted as
  // text): the config's eos_token, generation_config.json's eos_token_id and
  // the template's end-of-turn token (<|eot_id|>, <|im_end|>).
  std::vector<int32_t> stop_ids;
  // Where the prompt came from, for the start-up log.
  std::string origin = "defaults";

  // Throws EngineError naming the file and key: kCorruptData for a file that
  // is not JSON, kInvalidArgument for a key of the wrong type or a chat
  // template that fails to parse or render (with its line). With a
  // tokenizer, stop tokens the config names but added_tokens_decoder lacks
  // are looked up in it. `system_prompt` (--system-prompt) replaces
  // prompt_template.json's; "" means none; it needs a chat template.
  static PromptTemplate load(const std::string& model_dir, const Tokenizer* tokenizer = nullptr,
                             const std::optional<std::string>& system_prompt = std::nullopt);

  // The prompt_template.json question text with {question} filled in.
  std::string question_text(const std::string& question_text) const;

  // What a new session reads before the document.
  std::vector<PromptPiece> document_prefix_pieces() const;
  // What follows the document for a question or for a summary.
  std::vector<PromptPiece> question_pieces(const std::string& question) const;
  std::vector<PromptPiece> summary_pieces() const;

  // The ids a generation reads after a document: `encoder` is a copy of the
  // session's, holding the document's pending text. `document_rest` is what
  // remains of the document, `prompt` the generation's prompt. Chat
  // templates continue the document's encoder, so that the ids are those of
  // the whole rendered text; prompt_template.json prompts are encoded on
  // their own, as they always were (then `prompt` holds only theirs).
  struct Ids {
    std::vector<int32_t> document_rest;
    std::vector<int32_t> prompt;
  };
  Ids encode_after_document(const Tokenizer& tokenizer, StreamingEncoder encoder,
                            const std::vector<PromptPiece>& pieces) const;
};

// Feeds pieces to an encoder: template pieces with push_template, user text
// with push. Returns the ids that are final.
std::vector<int32_t> push_pieces(StreamingEncoder& encoder, const std::vector<PromptPiece>& pieces);

}  // namespace infini
