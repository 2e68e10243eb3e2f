// Answers decoded together: each step reads the next token of every member
// in one Model::decode call (the weights read once for all of them), then
// each member's Generation samples from its own logits. Members join at any
// step once their prompt is read, and leave as soon as they finish: no
// member waits for another (continuous batching, issue #19).
#pragma once

#include <cstdint>
#include <vector>

#include "engine/generation.h"
#include "engine/model.h"
#include "engine/session_state.h"

namespace infini {

class DecodeBatch {
 public:
  explicit DecodeBatch(const Model& model) : model_(model) {}

  // Reads `generation`'s prompt into `state` and takes its first token.
  // False when that already finished it (it then does not join). Neither
  // pointer is owned; both must outlive membership.
  bool join(SessionState* state, Generation* generation);

  // One decode step over every member. Returns the members that finished
  // in it (they have left).
  std::vector<Generation*> step();

  // Removes a member without finishing it (a caller that gave up on it);
  // a no-op for one that is not a member.
  void leave(const Generation* generation);

  int64_t size() const { return static_cast<int64_t>(members_.size()); }
  bool empty() const { return members_.empty(); }

 private:
  struct Member {
    SessionState* state;
    Generation* generation;
  };
  const Model& model_;
  std::vector<Member> members_;
};

}  // namespace infini
