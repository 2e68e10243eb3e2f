#include "engine/tokenizer_json.h"

#include "engine/error.h"

namespace infini {

std::shared_ptr<const Tokenizer> load_tokenizer_json(const std::string&,
                                                     const std::string& json_path,
                                                     const std::optional<std::string>&) {
  throw EngineError(ErrorCode::kUnsupported,
                    "tokenizer.json support is being added (issue #16): " + json_path);
}

}  // namespace infini
