#include "engine/cpu/matmul_cache.h"

#include <omp.h>

#include <functional>
#include <string>

#include "engine/error.h"

namespace infini::cpu {

namespace {

using dt = dnnl::memory::data_type;

dt to_dnnl(MatmulDType dtype) { return dtype == MatmulDType::kBF16 ? dt::bf16 : dt::f32; }

void hash_combine(size_t& seed, int64_t v) {
  seed ^= std::hash<int64_t>{}(v) + 0x9e3779b97f4a7c15ULL + (seed << 6) + (seed >> 2);
}

}  // namespace

size_t MatmulShapeHash::operator()(const MatmulShape& s) const {
  size_t h = 0;
  for (int64_t v : {s.m, s.k, s.n, s.lda, s.b_row, s.b_col, s.ldc}) hash_combine(h, v);
  hash_combine(h, static_cast<int64_t>(s.dtype));
  hash_combine(h, static_cast<int64_t>(std::hash<float>{}(s.alpha)));
  hash_combine(h, (s.accumulate ? 1 : 0) | (s.bias ? 2 : 0));
  hash_combine(h, s.threads);
  return h;
}

MatmulCache::MatmulCache(size_t capacity)
    : engine_(dnnl::engine::kind::cpu, 0), capacity_(capacity) {}

size_t MatmulCache::size() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return index_.size();
}

std::shared_ptr<const MatmulCache::Entry> MatmulCache::create(const MatmulShape& s) const {
  try {
    Entry entry;
    entry.a = dnnl::memory::desc({s.m, s.k}, to_dnnl(s.dtype), {s.lda, 1});
    entry.b = dnnl::memory::desc({s.k, s.n}, to_dnnl(s.dtype), {s.b_row, s.b_col});
    entry.c = dnnl::memory::desc({s.m, s.n}, dt::f32, {s.ldc, 1});
    dnnl::primitive_attr attr;
    // One primitive runs on many worker threads, at times at once. oneDNN's
    // default (library) scratchpad belongs to the creating thread and is
    // shared by every execution, so concurrent sessions would write over each
    // other's temporaries: each call brings its own scratchpad instead.
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    if (s.alpha != 1.0f) attr.set_output_scales(0, {s.alpha});
    if (s.accumulate) {
      dnnl::post_ops ops;
      ops.append_sum(1.0f);
      attr.set_post_ops(ops);
    }
    std::unique_ptr<dnnl::matmul::desc> desc;
    if (s.bias) {
      entry.bias = dnnl::memory::desc({1, s.n}, dt::f32, {s.n, 1});
      desc = std::make_unique<dnnl::matmul::desc>(entry.a, entry.b, entry.bias, entry.c);
    } else {
      desc = std::make_unique<dnnl::matmul::desc>(entry.a, entry.b, entry.c);
    }
    dnnl::matmul::primitive_desc pd(*desc, attr, engine_);
    entry.primitive = dnnl::matmul(pd);
    entry.scratchpad = pd.scratchpad_desc();
    return std::make_shared<const Entry>(std::move(entry));
  } catch (const dnnl::error& e) {
    throw EngineError(ErrorCode::kInternal,
                      "oneDNN could not create a matmul for " + std::to_string(s.m) + "x" +
                          std::to_string(s.k) + "x" + std::to_string(s.n) + ": " + e.what());
  }
}

std::shared_ptr<const MatmulCache::Entry> MatmulCache::get(const MatmulShape& shape) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = index_.find(shape);
    if (it != index_.end()) {
      order_.splice(order_.begin(), order_, it->second);
      return it->second->second;
    }
  }
  // Created outside the lock: JIT compilation must not serialise other callers.
  auto entry = create(shape);
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = index_.find(shape);
  if (it != index_.end()) return it->second->second;
  order_.emplace_front(shape, entry);
  index_[shape] = order_.begin();
  while (index_.size() > capacity_) {
    index_.erase(order_.back().first);
    order_.pop_back();
  }
  return entry;
}

void MatmulCache::run(MatmulShape shape, const void* a, const void* b, const float* bias,
                      float* c) {
  shape.threads = omp_get_max_threads();
  auto entry = get(shape);
  dnnl::stream stream(engine_);
  dnnl::memory ma(entry->a, engine_, const_cast<void*>(a));
  dnnl::memory mb(entry->b, engine_, const_cast<void*>(b));
  dnnl::memory mc(entry->c, engine_, c);
  std::unordered_map<int, dnnl::memory> args{
      {DNNL_ARG_SRC, ma}, {DNNL_ARG_WEIGHTS, mb}, {DNNL_ARG_DST, mc}};
  // The calling thread's scratchpad, grown to the largest size it has needed:
  // a worker runs one product at a time, so its buffer is never shared.
  thread_local std::unique_ptr<uint8_t[]> scratch;
  thread_local size_t scratch_size = 0;
  const size_t need = entry->scratchpad.get_size();
  if (need > 0) {
    if (need > scratch_size) {
      scratch = std::make_unique_for_overwrite<uint8_t[]>(need + 64);
      scratch_size = need;
    }
    void* aligned = scratch.get() + (64 - reinterpret_cast<uintptr_t>(scratch.get()) % 64) % 64;
    args.emplace(DNNL_ARG_SCRATCHPAD, dnnl::memory(entry->scratchpad, engine_, aligned));
  }
  if (shape.bias) args.emplace(DNNL_ARG_BIAS, dnnl::memory(entry->bias, engine_, const_cast<float*>(bias)));
  entry->primitive.execute(stream, args);
  stream.wait();
}

}  // namespace infini::cpu
