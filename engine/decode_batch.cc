#include "engine/decode_batch.h"

namespace infini {

bool DecodeBatch::join(SessionState* state, Generation* generation) {
  const std::vector<float> logits = model_.logits_last(*state, generation->request().prompt);
  if (!generation->advance(logits)) return false;
  members_.push_back(Member{state, generation});
  return true;
}

std::vector<Generation*> DecodeBatch::step() {
  std::vector<Generation*> finished;
  if (members_.empty()) return finished;
  std::vector<SessionState*> states;
  std::vector<int32_t> ids;
  states.reserve(members_.size());
  ids.reserve(members_.size());
  for (const Member& m : members_) {
    states.push_back(m.state);
    ids.push_back(m.generation->next_token());
  }
  const std::vector<float> logits = model_.decode(states, ids);
  const size_t vocab = static_cast<size_t>(model_.config().vocab_size);
  std::vector<Member> going;
  going.reserve(members_.size());
  for (size_t i = 0; i < members_.size(); ++i) {
    const std::span<const float> row(logits.data() + i * vocab, vocab);
    if (members_[i].generation->advance(row)) {
      going.push_back(members_[i]);
    } else {
      finished.push_back(members_[i].generation);
    }
  }
  members_ = std::move(going);
  return finished;
}

void DecodeBatch::leave(const Generation* generation) {
  std::erase_if(members_, [generation](const Member& m) { return m.generation == generation; });
}

}  // namespace infini
