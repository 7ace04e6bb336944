// oneDNN convolutions as XLA FFI handlers for gen_jax.nets.onednn (CPU only).
//
// Three handlers, one per bilinear map of an ordinary 2-D convolution with NHWC activations
// and HWIO kernels (the layouts XLA gives row-major arrays of those shapes):
//   gen_jax_onednn_conv          y  = F(x, w)      (oneDNN forward)
//   gen_jax_onednn_conv_data     dx = D(dy, w)     (oneDNN backward data:    F's adjoint in x)
//   gen_jax_onednn_conv_weights  dw = W(x, dy)     (oneDNN backward weights: F's adjoint in w)
// Attributes: strides (sh, sw) and the low / high padding of each spatial axis (>= 0).
//
// Threading and reproducibility: every call splits the batch into a fixed number of chunks
// (kChunks, or N if smaller), runs oneDNN single-threaded on each chunk, and spreads the
// chunks over XLA's own intra-op thread pool (the FFI ThreadPool context). oneDNN never
// starts OpenMP teams of its own, so it neither oversubscribes the cores XLA is using nor
// disturbs another OpenMP user in the process (PyTorch; the calling thread's OpenMP thread
// count is restored after each call). Weight gradients of the chunks are
// summed in chunk order. The result therefore does not depend on the number of threads:
// the same inputs give bitwise the same outputs on any machine with the same instruction set.
//
// Primitives are created once per geometry and cached; each execution brings its own
// scratchpad (user scratchpad mode), so concurrent executions of one primitive are safe.

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <exception>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "kernels.h"
#include "oneapi/dnnl/dnnl.hpp"
#include "xla/ffi/api/ffi.h"

namespace ffi = xla::ffi;
using dnnl::memory;
using Tag = dnnl::memory::format_tag;
using gen_jax::SingleThreaded;

namespace {

constexpr int64_t kChunks = 4;

dnnl::engine& Engine() {
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

struct Geometry {
  int64_t n, c, h, w, o, kh, kw, ho, wo, sh, sw, plh, phh, plw, phw;

  std::string Key(char kind) const {
    std::string key(1, kind);
    for (int64_t v : {n, c, h, w, o, kh, kw, ho, wo, sh, sw, plh, phh, plw, phw}) {
      key += ',' + std::to_string(v);
    }
    return key;
  }
  memory::desc Src() const { return {{n, c, h, w}, memory::data_type::f32, Tag::nhwc}; }
  memory::desc Dst() const { return {{n, o, ho, wo}, memory::data_type::f32, Tag::nhwc}; }
  memory::desc Weights(Tag tag) const { return {{o, c, kh, kw}, memory::data_type::f32, tag}; }
  memory::dims Strides() const { return {sh, sw}; }
  memory::dims PadLow() const { return {plh, plw}; }
  memory::dims PadHigh() const { return {phh, phw}; }
};

struct Primitive {
  dnnl::primitive main;
  memory::desc weights;   // the primitive's own (possibly blocked) weights layout
  memory::desc scratch;
  bool reorder = false;   // weights layout differs from HWIO
  dnnl::reorder to_primitive, to_user;
};

dnnl::primitive_attr Attributes() {
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  return attr;
}

std::shared_ptr<Primitive> Create(const Geometry& g, char kind) {
  auto forward = dnnl::convolution_forward::primitive_desc(
      Engine(), dnnl::prop_kind::forward_training, dnnl::algorithm::convolution_direct,
      g.Src(), g.Weights(Tag::any), g.Dst(), g.Strides(), g.PadLow(), g.PadHigh(),
      Attributes());
  auto p = std::make_shared<Primitive>();
  if (kind == 'f') {
    p->main = dnnl::convolution_forward(forward);
    p->weights = forward.weights_desc();
    p->scratch = forward.scratchpad_desc();
  } else if (kind == 'd') {
    auto pd = dnnl::convolution_backward_data::primitive_desc(
        Engine(), dnnl::algorithm::convolution_direct, g.Src(), g.Weights(Tag::any), g.Dst(),
        g.Strides(), g.PadLow(), g.PadHigh(), forward, Attributes());
    p->main = dnnl::convolution_backward_data(pd);
    p->weights = pd.weights_desc();
    p->scratch = pd.scratchpad_desc();
  } else {
    auto pd = dnnl::convolution_backward_weights::primitive_desc(
        Engine(), dnnl::algorithm::convolution_direct, g.Src(), g.Weights(Tag::any), g.Dst(),
        g.Strides(), g.PadLow(), g.PadHigh(), forward, Attributes());
    p->main = dnnl::convolution_backward_weights(pd);
    p->weights = pd.diff_weights_desc();
    p->scratch = pd.scratchpad_desc();
  }
  memory::desc user = g.Weights(Tag::hwio);
  p->reorder = !(p->weights == user);
  if (p->reorder) {
    p->to_primitive = dnnl::reorder(memory(user, Engine(), nullptr),
                                    memory(p->weights, Engine(), nullptr));
    p->to_user = dnnl::reorder(memory(p->weights, Engine(), nullptr),
                               memory(user, Engine(), nullptr));
  }
  return p;
}

std::shared_ptr<Primitive> Get(const Geometry& g, char kind) {
  static std::mutex mu;
  static auto* cache = new std::unordered_map<std::string, std::shared_ptr<Primitive>>();
  std::string key = g.Key(kind);
  {
    std::lock_guard<std::mutex> lock(mu);
    auto it = cache->find(key);
    if (it != cache->end()) return it->second;
  }
  auto p = Create(g, kind);
  std::lock_guard<std::mutex> lock(mu);
  return cache->emplace(key, p).first->second;
}

// One chunk: x (src / diff_src) and y (dst / diff_dst) of g.n examples.
void RunChunk(const Geometry& g, char kind, float* x, const memory& weights, float* y) {
  SingleThreaded single_threaded;
  auto p = Get(g, kind);
  dnnl::stream stream(Engine());
  memory src(g.Src(), Engine(), x), dst(g.Dst(), Engine(), y);
  memory scratch(p->scratch, Engine());
  if (kind == 'f') {
    p->main.execute(stream, {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, weights},
                             {DNNL_ARG_DST, dst}, {DNNL_ARG_SCRATCHPAD, scratch}});
  } else if (kind == 'd') {
    p->main.execute(stream, {{DNNL_ARG_DIFF_SRC, src}, {DNNL_ARG_WEIGHTS, weights},
                             {DNNL_ARG_DIFF_DST, dst}, {DNNL_ARG_SCRATCHPAD, scratch}});
  } else {
    p->main.execute(stream, {{DNNL_ARG_SRC, src}, {DNNL_ARG_DIFF_WEIGHTS, weights},
                             {DNNL_ARG_DIFF_DST, dst}, {DNNL_ARG_SCRATCHPAD, scratch}});
  }
  stream.wait();
}

void Run(const Geometry& g, char kind, float* x, float* w, float* y, ffi::ThreadPool& pool) {
  SingleThreaded single_threaded;
  const int64_t k = std::min<int64_t>(kChunks, g.n);
  std::vector<Geometry> chunk(k, g);
  std::vector<int64_t> start(k);
  for (int64_t i = 0, offset = 0; i < k; ++i) {
    chunk[i].n = g.n / k + (i < g.n % k ? 1 : 0);
    start[i] = offset;
    offset += chunk[i].n;
  }
  auto first = Get(chunk[0], kind);
  dnnl::stream stream(Engine());
  memory user(g.Weights(Tag::hwio), Engine(), w);
  std::vector<memory> weights(k);
  if (kind == 'w') {
    for (auto& m : weights) m = first->reorder ? memory(first->weights, Engine()) : memory(user.get_desc(), Engine());
  } else {
    memory m = user;
    if (first->reorder) {
      m = memory(first->weights, Engine());
      first->to_primitive.execute(stream, user, m);
      stream.wait();
    }
    std::fill(weights.begin(), weights.end(), m);
  }
  const int64_t x_size = g.h * g.w * g.c, y_size = g.ho * g.wo * g.o;
  gen_jax::ParallelFor(k, pool, [&](int64_t i) {
    RunChunk(chunk[i], kind, x + start[i] * x_size, weights[i], y + start[i] * y_size);
  });
  if (kind == 'w') {
    // Partial weight gradients summed in chunk order (independent of the thread count).
    const size_t count = first->weights.get_size() / sizeof(float);
    float* total = static_cast<float*>(weights[0].get_data_handle());
    for (int64_t i = 1; i < k; ++i) {
      const float* part = static_cast<const float*>(weights[i].get_data_handle());
      for (size_t j = 0; j < count; ++j) total[j] += part[j];
    }
    if (first->reorder) {
      first->to_user.execute(stream, weights[0], user);
      stream.wait();
    } else {
      std::memcpy(w, total, count * sizeof(float));
    }
  }
}

Geometry Make(ffi::Span<const int64_t> x, ffi::Span<const int64_t> w,
              ffi::Span<const int64_t> y, int64_t sh, int64_t sw, int64_t plh, int64_t phh,
              int64_t plw, int64_t phw) {
  return Geometry{x[0], x[3], x[1], x[2], w[3], w[0], w[1], y[1], y[2],
                  sh, sw, plh, phh, plw, phw};
}

}  // namespace

using F32 = ffi::Buffer<ffi::F32>;

ffi::Error ConvImpl(F32 x, F32 w, ffi::ResultBuffer<ffi::F32> y, int64_t sh, int64_t sw,
                    int64_t plh, int64_t phh, int64_t plw, int64_t phw, ffi::ThreadPool pool) {
  Geometry g = Make(x.dimensions(), w.dimensions(), y->dimensions(), sh, sw, plh, phh, plw, phw);
  return gen_jax::Guard("oneDNN convolution", [&]() {
    Run(g, 'f', x.typed_data(), w.typed_data(), y->typed_data(), pool);
  });
}

ffi::Error ConvDataImpl(F32 dy, F32 w, ffi::ResultBuffer<ffi::F32> dx, int64_t sh, int64_t sw,
                        int64_t plh, int64_t phh, int64_t plw, int64_t phw,
                        ffi::ThreadPool pool) {
  Geometry g = Make(dx->dimensions(), w.dimensions(), dy.dimensions(), sh, sw, plh, phh, plw, phw);
  return gen_jax::Guard("oneDNN convolution", [&]() {
    Run(g, 'd', dx->typed_data(), w.typed_data(), dy.typed_data(), pool);
  });
}

ffi::Error ConvWeightsImpl(F32 x, F32 dy, ffi::ResultBuffer<ffi::F32> dw, int64_t sh,
                           int64_t sw, int64_t plh, int64_t phh, int64_t plw, int64_t phw,
                           ffi::ThreadPool pool) {
  Geometry g = Make(x.dimensions(), dw->dimensions(), dy.dimensions(), sh, sw, plh, phh, plw, phw);
  return gen_jax::Guard("oneDNN convolution", [&]() {
    Run(g, 'w', x.typed_data(), dw->typed_data(), dy.typed_data(), pool);
  });
}

#define GEN_JAX_BINDING                                                                  \
  ffi::Ffi::Bind()                                                                       \
      .Arg<F32>()                                                                        \
      .Arg<F32>()                                                                        \
      .Ret<F32>()                                                                        \
      .Attr<int64_t>("sh")                                                               \
      .Attr<int64_t>("sw")                                                               \
      .Attr<int64_t>("plh")                                                              \
      .Attr<int64_t>("phh")                                                              \
      .Attr<int64_t>("plw")                                                              \
      .Attr<int64_t>("phw")                                                              \
      .Ctx<ffi::ThreadPool>()

XLA_FFI_DEFINE_HANDLER_SYMBOL(GenJaxOnednnConv, ConvImpl, GEN_JAX_BINDING);
XLA_FFI_DEFINE_HANDLER_SYMBOL(GenJaxOnednnConvData, ConvDataImpl, GEN_JAX_BINDING);
XLA_FFI_DEFINE_HANDLER_SYMBOL(GenJaxOnednnConvWeights, ConvWeightsImpl, GEN_JAX_BINDING);
