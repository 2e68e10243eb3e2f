#include "tools/infini/gemm_peak.h"

#include <chrono>
#include <cstring>

#include <oneapi/dnnl/dnnl.hpp>

namespace infini::tool {

namespace {

using dt = dnnl::memory::data_type;
using tag = dnnl::memory::format_tag;

GemmMeasurement time_gemm(const dnnl::engine& engine, int64_t m, int64_t k, int64_t n,
                          bool blocked_weights, double seconds) {
  dnnl::memory::desc a({m, k}, dt::bf16, tag::ab);
  dnnl::memory::desc b({k, n}, dt::bf16, blocked_weights ? tag::any : tag::ab);
  dnnl::memory::desc c({m, n}, dt::f32, tag::ab);
  dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(a, b, c), engine);
  dnnl::matmul gemm(pd);
  dnnl::memory ma(pd.src_desc(), engine), mb(pd.weights_desc(), engine), mc(pd.dst_desc(), engine);
  std::memset(ma.get_data_handle(), 0x3c, pd.src_desc().get_size());
  std::memset(mb.get_data_handle(), 0x3c, pd.weights_desc().get_size());
  dnnl::stream stream(engine);
  std::unordered_map<int, dnnl::memory> args{
      {DNNL_ARG_SRC, ma}, {DNNL_ARG_WEIGHTS, mb}, {DNNL_ARG_DST, mc}};
  gemm.execute(stream, args);  // warm-up
  stream.wait();
  int64_t runs = 0;
  const auto start = std::chrono::steady_clock::now();
  double elapsed = 0.0;
  do {
    gemm.execute(stream, args);
    stream.wait();
    ++runs;
    elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  } while (elapsed < seconds);
  GemmMeasurement out;
  out.shape = std::to_string(m) + "x" + std::to_string(k) + "x" + std::to_string(n) +
              (blocked_weights ? " blocked" : " plain");
  out.gflops = 2.0 * static_cast<double>(m * k * n) * static_cast<double>(runs) / elapsed / 1e9;
  return out;
}

}  // namespace

std::vector<GemmMeasurement> measure_gemm_peak(double seconds_each) {
  dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  std::vector<GemmMeasurement> out;
  for (int64_t size : {2048, 4096}) {
    for (bool blocked : {false, true}) {
      out.push_back(time_gemm(engine, size, size, size, blocked, seconds_each));
    }
  }
  return out;
}

}  // namespace infini::tool
