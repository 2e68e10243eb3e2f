// What every RPC handler needs, built once in main and shared read-only.
#pragma once

#include <memory>
#include <string>

#include "engine/model.h"
#include "engine/prompt_template.h"
#include "engine/tokenizer.h"
#include "server/metrics.h"
#include "server/scheduler.h"
#include "server/session_manager.h"
#include "server/session_persistence.h"

namespace infini::server {

struct GenerationLimits {
  int32_t default_max_tokens = 128;
  int32_t max_tokens = 4096;
};

struct ServiceContext {
  std::string model_name;
  std::shared_ptr<const Model> model;
  std::shared_ptr<const Tokenizer> tokenizer;
  PromptTemplate prompt;
  GenerationLimits generation;
  SessionManager* sessions = nullptr;
  Scheduler* scheduler = nullptr;
  ServerMetrics* metrics = nullptr;
  // Null when --snapshot-dir is not set: sessions live in memory only.
  const SessionPersistence* persistence = nullptr;
};

}  // namespace infini::server
