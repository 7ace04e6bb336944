// Helpers shared by gen_jax's CPU kernels (conv.cc, group_norm.cc, attention.cc): 16-lane
// float vectors with a vectorized exp, a parallel loop over XLA's FFI thread pool, an
// exception-to-FFI-error guard, and a guard that keeps oneDNN single-threaded inside a work
// item.

#ifndef GEN_JAX_NETS_ONEDNN_KERNELS_H_
#define GEN_JAX_NETS_ONEDNN_KERNELS_H_

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <exception>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>

#include "xla/ffi/api/ffi.h"

namespace gen_jax {

// 16 floats as one GCC vector (AVX-512 registers, or pairs of AVX ones): loops that call
// exp are written with it because GCC does not vectorize an exp written as scalar code.
typedef float VF __attribute__((vector_size(64)));
typedef int32_t VI __attribute__((vector_size(64)));
constexpr int64_t kW = 16;

// Loads / stores lanes [0, n) (n <= kW); the other lanes read as 0.
inline VF Load(const float* p, int64_t n) {
  VF v = {};
  if (n == kW) std::memcpy(&v, p, sizeof(v)); else std::memcpy(&v, p, n * sizeof(float));
  return v;
}
inline void Store(float* p, VF v, int64_t n) {
  if (n == kW) std::memcpy(p, &v, sizeof(v)); else std::memcpy(p, &v, n * sizeof(float));
}

// exp(v) lanewise for v clamped to [−87, 88]: 2^n · p(r), n = floor(v·log2 e + 1/2),
// r = v − n·ln 2 (|r| ≤ ln 2 / 2, ln 2 split in two for accuracy), p the degree-7 Taylor
// polynomial (truncation error < 1e-8 relative).
inline VF Exp(VF v) {
  v = v < -87.0f ? VF{} - 87.0f : v;
  v = v > 88.0f ? VF{} + 88.0f : v;
  const VF t = v * 1.44269504088896341f + 0.5f;
  VF n = __builtin_convertvector(__builtin_convertvector(t, VI), VF);  // trunc(t)
  n = n > t ? n - 1.0f : n;                                            // floor(t)
  const VF r = (v - n * 0.693145751953125f) - n * 1.42860682030941723212e-6f;
  VF p = VF{} + 1.0f / 5040.0f;
  p = p * r + 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  const VI bits = (__builtin_convertvector(n, VI) + 127) << 23;
  return p * reinterpret_cast<const VF&>(bits);
}

// Lanes [0, n) loaded, the others set to `fill`.
inline VF LoadOr(const float* p, int64_t n, float fill) {
  if (n == kW) return Load(p, n);
  VF v = VF{} + fill;
  std::memcpy(&v, p, n * sizeof(float));
  return v;
}

inline float Sum(VF v) {
  float t = 0.0f;
  for (int64_t i = 0; i < kW; ++i) t += v[i];
  return t;
}

inline float Max(VF v) {
  float t = v[0];
  for (int64_t i = 1; i < kW; ++i) t = std::max(t, v[i]);
  return t;
}

// Runs body(i) for i in [0, n) on the calling thread and XLA's pool (items claimed
// atomically: a busy or absent pool never blocks the call). An exception thrown by an item
// is rethrown on the calling thread once all items are done.
template <typename Body>
void ParallelFor(int64_t n, xla::ffi::ThreadPool& pool, Body body) {
  struct Shared {
    std::atomic<int64_t> next{0}, done{0};
    std::mutex mu;
    std::string error;
  };
  auto shared = std::make_shared<Shared>();
  auto work = [shared, n, &body]() {
    for (;;) {
      const int64_t i = shared->next.fetch_add(1);
      if (i >= n) return;
      try {
        body(i);
      } catch (const std::exception& e) {
        std::lock_guard<std::mutex> lock(shared->mu);
        shared->error = e.what();
      }
      shared->done.fetch_add(1);
    }
  };
  const int64_t helpers = std::min<int64_t>(pool.num_threads(), n - 1);
  for (int64_t i = 0; i < helpers; ++i) {
    pool.Schedule([shared, work, n]() {
      if (shared->next.load() < n) work();
    });
  }
  work();
  while (shared->done.load() < n) std::this_thread::yield();
  if (!shared->error.empty()) throw std::runtime_error(shared->error);
}

// Runs `run` and turns an exception into an FFI error naming `what` (an exception must not
// cross the FFI boundary: XLA would abort the process).
template <typename Run>
xla::ffi::Error Guard(const char* what, Run run) {
  try {
    run();
  } catch (const std::exception& e) {
    return xla::ffi::Error(xla::ffi::ErrorCode::kInternal,
                           std::string("gen_jax ") + what + " failed: " + e.what());
  }
  return xla::ffi::Error::Success();
}

// oneDNN runs single-threaded (no OpenMP team) while this is alive; the calling thread's
// OpenMP setting is restored afterwards: the caller may be the Python thread, whose setting
// belongs to other OpenMP users in the process (PyTorch's thread count).
class SingleThreaded {
 public:
  SingleThreaded() : previous_(omp_get_max_threads()) { omp_set_num_threads(1); }
  ~SingleThreaded() { omp_set_num_threads(previous_); }
  SingleThreaded(const SingleThreaded&) = delete;
  SingleThreaded& operator=(const SingleThreaded&) = delete;

 private:
  int previous_;
};

}  // namespace gen_jax

#endif  // GEN_JAX_NETS_ONEDNN_KERNELS_H_
