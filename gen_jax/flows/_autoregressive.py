"""Masked autoregressive flows over the MADE conditioner (`gen_jax.nets.MADE`):
MAF (Papamakarios et al. 2017) and IAF (Kingma et al. 2016).

One autoregressive affine transform, data x <-> latent z, dimension d generated at step
order^{-1}(d):
  MAF:  z_d = (x_d - mu_d(x_<d)) exp(-alpha_d(x_<d))      density: one MADE pass;
                                                           sampling: D passes (a scan).
  IAF:  x_d = z_d exp(alpha_d(z_<d)) + mu_d(z_<d)          sampling: one MADE pass;
                                                           density: D passes (a scan).
The Jacobian is triangular in the order, so log |det dz/dx| = -sum_d alpha_d (both, with
alpha evaluated at x for MAF and at z for IAF). alpha is soft-clamped,
alpha = 3 tanh(raw / 3), so exp(+-alpha) stays within [0.05, 20] per layer.
"""

from __future__ import annotations

from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from gen_jax import nets
from gen_jax import validation
from gen_jax.flows._layers import ConditionalFlowLayer

LOG_SCALE_BOUND = 3.0


class MaskedAutoregressive(ConditionalFlowLayer):
  """An autoregressive affine layer (MAF, or IAF with `inverse_autoregressive`) on [B, D].

  Attributes:
    num_dims: D.
    hidden_sizes: the MADE's hidden widths.
    input_order: the autoregressive order (a permutation of 0..D-1; None: 0..D-1). Stack
      layers with reversed orders (Papamakarios et al. 2017, sec. 3).
    inverse_autoregressive: IAF (one-pass sampling, sequential density) instead of MAF.
  Call: (x [B, D], *, inverse=False, context=None) with an optional context [B, K] that the
  MADE sees unmasked (a conditional MAF / IAF, p(x | context), Papamakarios et al. 2017,
  sec. 3.4): mu and alpha of every dimension depend on the context.
  """
  num_dims: int
  hidden_sizes: Sequence[int] = (64, 64)
  input_order: Sequence[int] | None = None
  inverse_autoregressive: bool = False

  def setup(self):
    validation.check_int("num_dims", self.num_dims, low=1)
    order = (tuple(range(self.num_dims)) if self.input_order is None
             else tuple(int(i) for i in self.input_order))
    nets.check_order(order, self.num_dims)
    self.made = nets.MADE(self.num_dims, tuple(self.hidden_sizes), num_outputs=2,
                          input_order=order)

  def _order(self) -> np.ndarray:
    return (np.arange(self.num_dims) if self.input_order is None
            else np.asarray(self.input_order))

  @staticmethod
  def _shift_log_scale(out):
    return out[..., 0], LOG_SCALE_BOUND * jnp.tanh(out[..., 1] / LOG_SCALE_BOUND)

  def _one_pass(self, v, to_latent, context):
    """The direction computable in one MADE pass; v conditions its own transform."""
    mu, alpha = self._shift_log_scale(self.made(v, context))
    if to_latent:
      return (v - mu) * jnp.exp(-alpha), -alpha.sum(-1)
    return v * jnp.exp(alpha) + mu, alpha.sum(-1)

  def _sequential(self, u, to_latent, context):
    """The direction that needs D passes: output dimension order[t] is fixed at step t from
    the outputs fixed before it (a `lax.scan`; the MADE is applied as a pure function)."""
    made = self.made.clone(parent=None)  # unbound: applied as a pure function in the scan
    if self.is_initializing():
      self.made(u, context)            # creates the parameters the scan reads
    variables = self.made.variables
    order = jnp.asarray(self._order())

    def transform(out, v):
      mu, alpha = self._shift_log_scale(out)
      # MAF's sampling direction: x = z exp(alpha) + mu; IAF's density: z = (x - mu) e^-a.
      return (v - mu) * jnp.exp(-alpha) if to_latent else v * jnp.exp(alpha) + mu

    def step(w, d):
      new = transform(made.apply(variables, w, context), u)
      return jnp.where(jnp.arange(self.num_dims) == d, new, w), None

    w, _ = jax.lax.scan(step, jnp.zeros_like(u), order)
    mu, alpha = self._shift_log_scale(self.made(w, context))
    return w, (-alpha.sum(-1) if to_latent else alpha.sum(-1))

  def __call__(self, x, *, inverse=False, context=None):
    validation.check_shape("x", x, (None, self.num_dims))
    if not self.inverse_autoregressive:   # MAF: x -> z in one pass
      return (self._sequential(x, False, context) if inverse
              else self._one_pass(x, True, context))
    # IAF: z -> x in one pass, conditioned on z; x -> z sequentially.
    return (self._one_pass(x, False, context) if inverse
            else self._sequential(x, True, context))
