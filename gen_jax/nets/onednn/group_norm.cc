// GroupNorm (Wu & He 2018), optionally followed by swish, as XLA FFI handlers (CPU only).
//
// oneDNN 3.2 has no group normalization primitive, so these loops are written here. For x of
// shape [B, S, C] (S = the product of the spatial axes, channels contiguous), G groups of
// C / G consecutive channels, per-channel scale γ and bias β:
//   μ_bg, σ²_bg = mean and (two-pass) variance of x[b, :, group g],  r = 1 / √(σ² + ε)
//   z = (x − μ)·r·γ + β,   y = z (act = 0)  or  y = z·sigmoid(z) (act = 1, swish)
// Handlers:
//   gen_jax_group_norm       (x, γ, β)      -> y
//   gen_jax_group_norm_vjp   (x, γ, β, dy)  -> (dx, dγ, dβ)
// The backward pass recomputes the statistics (one pass over an example's x, which is in
// cache), then, with dz = dy·act'(z) and x̂ = (x − μ)·r:
//   dβ = Σ_{b,s} dz,  dγ = Σ_{b,s} dz·x̂,
//   dx = r·(γ·dz − mean_g(γ·dz) − x̂·mean_g(γ·dz·x̂))
// Sums run in double. Work is one example per item, spread over XLA's intra-op thread pool;
// dγ, dβ are summed over examples in example order after all items finish, so the results
// do not depend on the number of threads.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "kernels.h"
#include "xla/ffi/api/ffi.h"

namespace ffi = xla::ffi;
using gen_jax::Exp;
using gen_jax::kW;
using gen_jax::Load;
using gen_jax::ParallelFor;
using gen_jax::Store;
using gen_jax::VF;

namespace {

struct Shape {
  int64_t b, s, c, g;
  int64_t per_group() const { return c / g; }
  int64_t example() const { return s * c; }
};

// Per-group mean and 1/√(var + ε) of one example x [S, C]; col is scratch of C doubles.
void Stats(const Shape& sh, const float* x, float eps, double* col, double* mean,
           double* rstd) {
  const int64_t cg = sh.per_group();
  const double n = static_cast<double>(sh.s * cg);
  std::fill(col, col + sh.c, 0.0);
  for (int64_t i = 0; i < sh.s; ++i) {
    const float* row = x + i * sh.c;
#pragma omp simd
    for (int64_t c = 0; c < sh.c; ++c) col[c] += row[c];
  }
  std::vector<double> mu_c(sh.c);
  for (int64_t g = 0; g < sh.g; ++g) {
    double t = 0.0;
    for (int64_t c = g * cg; c < (g + 1) * cg; ++c) t += col[c];
    mean[g] = t / n;
    for (int64_t c = g * cg; c < (g + 1) * cg; ++c) mu_c[c] = mean[g];
  }
  std::fill(col, col + sh.c, 0.0);
  for (int64_t i = 0; i < sh.s; ++i) {
    const float* row = x + i * sh.c;
#pragma omp simd
    for (int64_t c = 0; c < sh.c; ++c) {
      const double d = row[c] - mu_c[c];
      col[c] += d * d;
    }
  }
  for (int64_t g = 0; g < sh.g; ++g) {
    double t = 0.0;
    for (int64_t c = g * cg; c < (g + 1) * cg; ++c) t += col[c];
    rstd[g] = 1.0 / std::sqrt(t / n + static_cast<double>(eps));
  }
}

// Per-channel a = γ·r and s = β − μ·a, so that z = a·x + s.
void Affine(const Shape& sh, const double* mean, const double* rstd, const float* gamma,
            const float* beta, float* a, float* s) {
  const int64_t cg = sh.per_group();
  for (int64_t c = 0; c < sh.c; ++c) {
    const int64_t g = c / cg;
    a[c] = static_cast<float>(gamma[c] * rstd[g]);
    s[c] = static_cast<float>(beta[c] - mean[g] * gamma[c] * rstd[g]);
  }
}

void Forward(const Shape& sh, int64_t b, const float* x, const float* gamma, const float* beta,
             float* y, float eps, int64_t act) {
  std::vector<double> col(sh.c), mean(sh.g), rstd(sh.g);
  std::vector<float> a(sh.c), s(sh.c);
  x += b * sh.example();
  y += b * sh.example();
  Stats(sh, x, eps, col.data(), mean.data(), rstd.data());
  Affine(sh, mean.data(), rstd.data(), gamma, beta, a.data(), s.data());
  const float* ap = a.data();
  const float* sp = s.data();
  for (int64_t i = 0; i < sh.s; ++i) {
    const float* xr = x + i * sh.c;
    float* yr = y + i * sh.c;
    if (act == 1) {
      for (int64_t c = 0; c < sh.c; c += kW) {
        const int64_t w = std::min(kW, sh.c - c);
        const VF z = Load(xr + c, w) * Load(ap + c, w) + Load(sp + c, w);
        Store(yr + c, z / (1.0f + Exp(-z)), w);
      }
    } else {
#pragma omp simd
      for (int64_t c = 0; c < sh.c; ++c) yr[c] = xr[c] * ap[c] + sp[c];
    }
  }
}

// One example's dx, and its partial dγ (dg) and dβ (db) [C].
void Backward(const Shape& sh, int64_t b, const float* x, const float* gamma, const float* beta,
              const float* dy, float* dx, double* dg, double* db, float eps, int64_t act) {
  const int64_t cg = sh.per_group();
  std::vector<double> col(sh.c), mean(sh.g), rstd(sh.g);
  std::vector<float> a(sh.c), s(sh.c), mu(sh.c), r(sh.c);
  x += b * sh.example();
  dy += b * sh.example();
  dx += b * sh.example();
  Stats(sh, x, eps, col.data(), mean.data(), rstd.data());
  Affine(sh, mean.data(), rstd.data(), gamma, beta, a.data(), s.data());
  for (int64_t c = 0; c < sh.c; ++c) {
    mu[c] = static_cast<float>(mean[c / cg]);
    r[c] = static_cast<float>(rstd[c / cg]);
  }
  std::fill(db, db + sh.c, 0.0);
  std::fill(dg, dg + sh.c, 0.0);
  const float *ap = a.data(), *sp = s.data(), *mp = mu.data(), *rp = r.data();
  // Pass 1: dz into dx; per-channel Σ dz and Σ dz·x̂.
  for (int64_t i = 0; i < sh.s; ++i) {
    const float* xr = x + i * sh.c;
    const float* dyr = dy + i * sh.c;
    float* dzr = dx + i * sh.c;
    if (act == 1) {  // dz = dy · swish'(z), swish'(z) = σ(z)·(1 + z·(1 − σ(z)))
      for (int64_t c = 0; c < sh.c; c += kW) {
        const int64_t w = std::min(kW, sh.c - c);
        const VF z = Load(xr + c, w) * Load(ap + c, w) + Load(sp + c, w);
        const VF sig = 1.0f / (1.0f + Exp(-z));
        Store(dzr + c, Load(dyr + c, w) * (sig * (1.0f + z * (1.0f - sig))), w);
      }
    } else {
      std::memcpy(dzr, dyr, sh.c * sizeof(float));
    }
#pragma omp simd
    for (int64_t c = 0; c < sh.c; ++c) {
      const float dz = dzr[c];
      db[c] += dz;
      dg[c] += dz * ((xr[c] - mp[c]) * rp[c]);
    }
  }
  // Group means of γ·dz and γ·dz·x̂.
  std::vector<float> m1(sh.c), m2(sh.c), gr(sh.c);
  const double n = static_cast<double>(sh.s * cg);
  for (int64_t g = 0; g < sh.g; ++g) {
    double t1 = 0.0, t2 = 0.0;
    for (int64_t c = g * cg; c < (g + 1) * cg; ++c) {
      t1 += gamma[c] * db[c];
      t2 += gamma[c] * dg[c];
    }
    for (int64_t c = g * cg; c < (g + 1) * cg; ++c) {
      m1[c] = static_cast<float>(t1 / n);
      m2[c] = static_cast<float>(t2 / n);
      gr[c] = gamma[c] * r[c];
    }
  }
  // Pass 2: dx = r·(γ·dz − m1 − x̂·m2).
  const float *m1p = m1.data(), *m2p = m2.data(), *grp = gr.data();
  for (int64_t i = 0; i < sh.s; ++i) {
    const float* xr = x + i * sh.c;
    float* dxr = dx + i * sh.c;
#pragma omp simd
    for (int64_t c = 0; c < sh.c; ++c) {
      const float xh = (xr[c] - mp[c]) * rp[c];
      dxr[c] = grp[c] * dxr[c] - rp[c] * (m1p[c] + xh * m2p[c]);
    }
  }
}

Shape MakeShape(ffi::Span<const int64_t> dims, int64_t groups) {
  Shape sh{dims[0], 1, dims[dims.size() - 1], groups};
  for (size_t i = 1; i + 1 < dims.size(); ++i) sh.s *= dims[i];
  return sh;
}

}  // namespace

using F32 = ffi::Buffer<ffi::F32>;

ffi::Error GroupNormImpl(F32 x, F32 gamma, F32 beta, ffi::ResultBuffer<ffi::F32> y,
                         int64_t groups, float eps, int64_t act, ffi::ThreadPool pool) {
  const Shape sh = MakeShape(x.dimensions(), groups);
  const float *xp = x.typed_data(), *gp = gamma.typed_data(), *bp = beta.typed_data();
  float* yp = y->typed_data();
  return gen_jax::Guard("GroupNorm kernel", [&]() {
    ParallelFor(sh.b, pool, [&](int64_t b) { Forward(sh, b, xp, gp, bp, yp, eps, act); });
  });
}

ffi::Error GroupNormVjpImpl(F32 x, F32 gamma, F32 beta, F32 dy,
                            ffi::ResultBuffer<ffi::F32> dx, ffi::ResultBuffer<ffi::F32> dgamma,
                            ffi::ResultBuffer<ffi::F32> dbeta, int64_t groups, float eps,
                            int64_t act, ffi::ThreadPool pool) {
  const Shape sh = MakeShape(x.dimensions(), groups);
  const float *xp = x.typed_data(), *gp = gamma.typed_data(), *bp = beta.typed_data();
  const float* dyp = dy.typed_data();
  float* dxp = dx->typed_data();
  float *dgp = dgamma->typed_data(), *dbp = dbeta->typed_data();
  return gen_jax::Guard("GroupNorm kernel", [&]() {
    std::vector<double> dg(sh.b * sh.c), db(sh.b * sh.c);
    ParallelFor(sh.b, pool, [&](int64_t b) {
      Backward(sh, b, xp, gp, bp, dyp, dxp, dg.data() + b * sh.c, db.data() + b * sh.c, eps,
               act);
    });
    for (int64_t c = 0; c < sh.c; ++c) {
      double tg = 0.0, tb = 0.0;
      for (int64_t b = 0; b < sh.b; ++b) {  // example order: thread-count independent
        tg += dg[b * sh.c + c];
        tb += db[b * sh.c + c];
      }
      dgp[c] = static_cast<float>(tg);
      dbp[c] = static_cast<float>(tb);
    }
  });
}

XLA_FFI_DEFINE_HANDLER_SYMBOL(GenJaxGroupNorm, GroupNormImpl,
                              ffi::Ffi::Bind()
                                  .Arg<F32>()
                                  .Arg<F32>()
                                  .Arg<F32>()
                                  .Ret<F32>()
                                  .Attr<int64_t>("groups")
                                  .Attr<float>("eps")
                                  .Attr<int64_t>("act")
                                  .Ctx<ffi::ThreadPool>());

XLA_FFI_DEFINE_HANDLER_SYMBOL(GenJaxGroupNormVjp, GroupNormVjpImpl,
                              ffi::Ffi::Bind()
                                  .Arg<F32>()
                                  .Arg<F32>()
                                  .Arg<F32>()
                                  .Arg<F32>()
                                  .Ret<F32>()
                                  .Ret<F32>()
                                  .Ret<F32>()
                                  .Attr<int64_t>("groups")
                                  .Attr<float>("eps")
                                  .Attr<int64_t>("act")
                                  .Ctx<ffi::ThreadPool>());
