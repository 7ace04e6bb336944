"""Discriminator layers that look across the minibatch (mode-collapse countermeasures).

Both layers mix examples: a critic using them is not per-example, so do not combine
them with `gradient_penalty` / `dragan_penalty`, whose per-example gradients assume
independent examples.
"""

from typing import Callable

import flax.linen as nn
import jax.numpy as jnp

Initializer = Callable[..., jnp.ndarray]


class MinibatchDiscrimination(nn.Module):
  """Minibatch discrimination (Salimans et al. 2016, §3.2).

  For features f(x_i) ∈ R^A and a learned tensor T ∈ R^{A×B×C}:
    M_i = f(x_i)·T ∈ R^{B×C},  c_b(x_i, x_j) = exp(−‖M_{i,b} − M_{j,b}‖_{L1}),
    o(x_i)_b = Σ_j c_b(x_i, x_j),
  and the layer returns [f(x_i), o(x_i)] ∈ R^{A+B}. (B = `num_kernels`, C =
  `kernel_dim`.)

  The sum over j includes j = i, as in the paper's equation; that term is the constant
  c_b(x_i, x_i) = 1. Set `exclude_self=True` to subtract it (as several public
  implementations do) so that o = 0 for a batch of one. Either way the gradient is the
  same; only the offset of the feature differs.

  Attributes:
    num_kernels: B, the number of similarity features appended.
    kernel_dim: C, the dimension of each kernel's projection.
    exclude_self: drop the j = i term.
    kernel_init: initializer of T, stored as an [A, B·C] matrix.
  """
  num_kernels: int = 100
  kernel_dim: int = 5
  exclude_self: bool = False
  kernel_init: Initializer = nn.initializers.normal(stddev=0.02)

  @nn.compact
  def __call__(self, features: jnp.ndarray) -> jnp.ndarray:
    """features [N, A] -> [N, A + num_kernels]."""
    if features.ndim != 2:
      raise ValueError(f"features must have shape [N, A], got {features.shape}; "
                       "flatten the discriminator features first.")
    t = self.param("kernel", self.kernel_init,
                   (features.shape[-1], self.num_kernels * self.kernel_dim),
                   features.dtype)
    m = (features @ t).reshape(-1, self.num_kernels, self.kernel_dim)
    l1 = jnp.sum(jnp.abs(m[:, None] - m[None, :]), axis=-1)  # [N, N, B]
    o = jnp.sum(jnp.exp(-l1), axis=1)
    if self.exclude_self:
      o = o - 1.0
    return jnp.concatenate([features, o], axis=-1)


class MinibatchStddev(nn.Module):
  """Minibatch standard deviation feature (Karras et al. 2018, §3).

  The standard deviation of each feature (and spatial position) over the batch,
  averaged over features and positions to one scalar, appended as one constant extra
  channel: [N, ..., C] -> [N, ..., C + 1]. std = sqrt(Var + 1e-8) with the biased
  (1/N) variance, as in the paper.

  `group_size=None` (default) takes the statistics over the whole batch. An integer G
  splits the batch into groups of G examples (the paper's code uses G = 4) and
  computes one value per group; the batch size must be divisible by G, and example i
  belongs to group i mod (N/G).

  Attributes:
    group_size: None for the whole batch, or G dividing the batch size.
    epsilon: added to the variance before the square root.
  """
  group_size: int | None = None
  epsilon: float = 1e-8

  @nn.compact
  def __call__(self, x: jnp.ndarray) -> jnp.ndarray:
    """x [N, ..., C] -> [N, ..., C + 1]."""
    if x.ndim < 2:
      raise ValueError(f"x must have shape [N, ..., C], got {x.shape}.")
    n = x.shape[0]
    g = n if self.group_size is None else min(self.group_size, n)
    if n % g:
      raise ValueError(f"batch size {n} is not divisible by group_size={g}.")
    grouped = x.reshape((g, n // g) + x.shape[1:])
    var = jnp.mean(jnp.square(grouped - jnp.mean(grouped, axis=0)), axis=0)
    std = jnp.sqrt(var + self.epsilon)  # [N/G, ..., C]
    per_group = jnp.mean(std.reshape(n // g, -1), axis=-1)  # [N/G]
    per_example = jnp.tile(per_group, g)  # example i -> group i mod (N/G)
    feature = jnp.broadcast_to(
        per_example.reshape((n,) + (1,) * (x.ndim - 1)), x.shape[:-1] + (1,))
    return jnp.concatenate([x, feature.astype(x.dtype)], axis=-1)
