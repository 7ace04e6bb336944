// Single-head self-attention from a packed q|k|v tensor, as XLA FFI handlers (CPU only).
//
// For qkv [B, N, 3C] (q, k, v the three C-channel thirds of the last axis) and s = 1/√C:
//   P = softmax(s · q kᵀ) (rows),  o = P v                          -> o [B, N, C]
// Handlers:
//   gen_jax_attention      (qkv)      -> o
//   gen_jax_attention_vjp  (qkv, do)  -> dqkv [B, N, 3C]
// The backward pass recomputes P (one matmul and a softmax) instead of storing the [B, N, N]
// matrices, then, with D_i = Σ_j P_ij dP_ij (= Σ_c do_ic o_ic):
//   dv = Pᵀ do,  dP = do vᵀ,  dS = s · P ⊙ (dP − D),  dq = dS k,  dk = dSᵀ q.
// Matrix products are oneDNN's matmul (single-threaded inside a work item); softmax and the
// elementwise steps are vectorized loops. One example per work item, spread over XLA's
// intra-op thread pool: results do not depend on the number of threads.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "kernels.h"
#include "oneapi/dnnl/dnnl.hpp"
#include "xla/ffi/api/ffi.h"

namespace ffi = xla::ffi;
using dnnl::memory;
using Tag = dnnl::memory::format_tag;
using gen_jax::Exp;
using gen_jax::kW;
using gen_jax::Load;
using gen_jax::LoadOr;
using gen_jax::ParallelFor;
using gen_jax::SingleThreaded;
using gen_jax::Store;
using gen_jax::VF;

namespace {

dnnl::engine& Engine() {
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

// dst [m, n] = src [m, k] · weights [k, n], either operand read transposed ('t': stored as
// [k, m] / [n, k], row-major).
struct MatMul {
  dnnl::matmul primitive;
  memory::desc src, weights, dst, scratch;
};

std::shared_ptr<MatMul> Get(int64_t m, int64_t k, int64_t n, bool src_t, bool weights_t) {
  static std::mutex mu;
  static auto* cache = new std::unordered_map<std::string, std::shared_ptr<MatMul>>();
  const std::string key = std::to_string(m) + ',' + std::to_string(k) + ',' +
                          std::to_string(n) + (src_t ? 't' : 'n') + (weights_t ? 't' : 'n');
  {
    std::lock_guard<std::mutex> lock(mu);
    auto it = cache->find(key);
    if (it != cache->end()) return it->second;
  }
  auto mm = std::make_shared<MatMul>();
  mm->src = memory::desc({m, k}, memory::data_type::f32, src_t ? Tag::ba : Tag::ab);
  mm->weights = memory::desc({k, n}, memory::data_type::f32, weights_t ? Tag::ba : Tag::ab);
  mm->dst = memory::desc({m, n}, memory::data_type::f32, Tag::ab);
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  auto pd = dnnl::matmul::primitive_desc(Engine(), mm->src, mm->weights, mm->dst, attr);
  mm->primitive = dnnl::matmul(pd);
  mm->scratch = pd.scratchpad_desc();
  std::lock_guard<std::mutex> lock(mu);
  return cache->emplace(key, mm).first->second;
}

void Multiply(int64_t m, int64_t k, int64_t n, const float* a, bool a_t, const float* b,
              bool b_t, float* c) {
  auto mm = Get(m, k, n, a_t, b_t);
  dnnl::stream stream(Engine());
  memory src(mm->src, Engine(), const_cast<float*>(a));
  memory weights(mm->weights, Engine(), const_cast<float*>(b));
  memory dst(mm->dst, Engine(), c);
  memory scratch(mm->scratch, Engine());
  mm->primitive.execute(stream, {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, weights},
                                 {DNNL_ARG_DST, dst}, {DNNL_ARG_SCRATCHPAD, scratch}});
  stream.wait();
}

// Rows of s [n, n] replaced by softmax(scale · row).
void Softmax(float* s, int64_t n, float scale) {
  for (int64_t i = 0; i < n; ++i) {
    float* row = s + i * n;
    VF mx = VF{} - __builtin_huge_valf();
    for (int64_t j = 0; j < n; j += kW) {
      const VF v = LoadOr(row + j, std::min(kW, n - j), -__builtin_huge_valf());
      mx = v > mx ? v : mx;
    }
    const float m = gen_jax::Max(mx) * scale;
    VF total = {};
    for (int64_t j = 0; j < n; j += kW) {
      const int64_t w = std::min(kW, n - j);
      VF e = Exp(Load(row + j, w) * scale - m);
      if (w < kW) {
        for (int64_t l = w; l < kW; ++l) e[l] = 0.0f;
      }
      total += e;
      Store(row + j, e, w);
    }
    const float inv = 1.0f / gen_jax::Sum(total);
    for (int64_t j = 0; j < n; j += kW) {
      const int64_t w = std::min(kW, n - j);
      Store(row + j, Load(row + j, w) * inv, w);
    }
  }
}

// Columns [offset, offset + c) of rows of width 3c, copied to / from a dense [n, c] array.
void Unpack(const float* qkv, int64_t n, int64_t c, int64_t offset, float* out) {
  for (int64_t i = 0; i < n; ++i) std::memcpy(out + i * c, qkv + i * 3 * c + offset, c * 4);
}
void Pack(const float* in, int64_t n, int64_t c, int64_t offset, float* qkv) {
  for (int64_t i = 0; i < n; ++i) std::memcpy(qkv + i * 3 * c + offset, in + i * c, c * 4);
}

struct Example {
  std::vector<float> q, k, v, p;
  Example(int64_t n, int64_t c) : q(n * c), k(n * c), v(n * c), p(n * n) {}
};

// P of one example (and its unpacked q, k, v).
void Probabilities(const float* qkv, int64_t n, int64_t c, Example& e) {
  Unpack(qkv, n, c, 0, e.q.data());
  Unpack(qkv, n, c, c, e.k.data());
  Unpack(qkv, n, c, 2 * c, e.v.data());
  Multiply(n, c, n, e.q.data(), false, e.k.data(), true, e.p.data());  // q kᵀ
  Softmax(e.p.data(), n, 1.0f / std::sqrt(static_cast<float>(c)));
}

void Forward(const float* qkv, int64_t n, int64_t c, float* o) {
  SingleThreaded single_threaded;
  Example e(n, c);
  Probabilities(qkv, n, c, e);
  Multiply(n, n, c, e.p.data(), false, e.v.data(), false, o);  // P v
}

void Backward(const float* qkv, const float* dout, int64_t n, int64_t c, float* dqkv) {
  SingleThreaded single_threaded;
  Example e(n, c);
  Probabilities(qkv, n, c, e);
  std::vector<float> dp(n * n), grad(n * c);
  Multiply(n, n, c, e.p.data(), true, dout, false, grad.data());  // dv = Pᵀ do
  Pack(grad.data(), n, c, 2 * c, dqkv);
  Multiply(n, c, n, dout, false, e.v.data(), true, dp.data());  // dP = do vᵀ
  const float scale = 1.0f / std::sqrt(static_cast<float>(c));
  for (int64_t i = 0; i < n; ++i) {  // dS = s · P ⊙ (dP − D), into dp
    const float* pr = e.p.data() + i * n;
    float* dr = dp.data() + i * n;
    VF acc = {};
    for (int64_t j = 0; j < n; j += kW) {
      const int64_t w = std::min(kW, n - j);
      acc += Load(pr + j, w) * Load(dr + j, w);
    }
    const float d = gen_jax::Sum(acc);
    for (int64_t j = 0; j < n; j += kW) {
      const int64_t w = std::min(kW, n - j);
      Store(dr + j, Load(pr + j, w) * (Load(dr + j, w) - d) * scale, w);
    }
  }
  Multiply(n, n, c, dp.data(), false, e.k.data(), false, grad.data());  // dq = dS k
  Pack(grad.data(), n, c, 0, dqkv);
  Multiply(n, n, c, dp.data(), true, e.q.data(), false, grad.data());  // dk = dSᵀ q
  Pack(grad.data(), n, c, c, dqkv);
}

}  // namespace

using F32 = ffi::Buffer<ffi::F32>;

ffi::Error AttentionImpl(F32 qkv, ffi::ResultBuffer<ffi::F32> o, ffi::ThreadPool pool) {
  const auto dims = qkv.dimensions();
  const int64_t b = dims[0], n = dims[1], c = dims[2] / 3;
  const float* x = qkv.typed_data();
  float* out = o->typed_data();
  return gen_jax::Guard("attention kernel", [&]() {
    ParallelFor(b, pool, [&](int64_t i) { Forward(x + i * n * 3 * c, n, c, out + i * n * c); });
  });
}

ffi::Error AttentionVjpImpl(F32 qkv, F32 dout, ffi::ResultBuffer<ffi::F32> dqkv,
                            ffi::ThreadPool pool) {
  const auto dims = qkv.dimensions();
  const int64_t b = dims[0], n = dims[1], c = dims[2] / 3;
  const float *x = qkv.typed_data(), *dy = dout.typed_data();
  float* dx = dqkv->typed_data();
  return gen_jax::Guard("attention kernel", [&]() {
    ParallelFor(b, pool, [&](int64_t i) {
      Backward(x + i * n * 3 * c, dy + i * n * c, n, c, dx + i * n * 3 * c);
    });
  });
}

XLA_FFI_DEFINE_HANDLER_SYMBOL(GenJaxAttention, AttentionImpl,
                              ffi::Ffi::Bind().Arg<F32>().Ret<F32>().Ctx<ffi::ThreadPool>());

XLA_FFI_DEFINE_HANDLER_SYMBOL(GenJaxAttentionVjp, AttentionVjpImpl,
                              ffi::Ffi::Bind()
                                  .Arg<F32>()
                                  .Arg<F32>()
                                  .Ret<F32>()
                                  .Ctx<ffi::ThreadPool>());
