"""Normalizing flows: exact densities by the change of variables,
log p(x) = log p_z(f(x)) + log |det df/dx| (Dinh et al., 2015, 2017; Durkan et al., 2019),
beside the histogram baseline every flow must beat."""

from gen_jax.flows._spline import rational_quadratic_spline
