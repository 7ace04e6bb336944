"""The functional boundary of a linen module: parameters apart from its other collections.

Every family calls its networks the same way: `apply(module, params, collections, *args,
train=...)`, with the trained parameters in a parameter group of the train state and the
other collections (batch statistics) in its `extra`.
"""

from __future__ import annotations

from typing import Any, Mapping

import flax.linen as nn


def split_variables(variables: Mapping[str, Any]) -> tuple[Any, dict[str, Any]]:
  """linen variables -> (params, the other collections)."""
  variables = dict(variables)
  return variables.pop("params"), variables


def apply(module: nn.Module, params: Any, collections: Mapping[str, Any], *args,
          train: bool, method: Any = None, **kwargs) -> tuple[Any, dict[str, Any]]:
  """Calls `module`; in training mode its mutable collections are updated and returned.

  Args:
    module: a linen module whose `__call__` (or `method`) takes `train=`.
    params: its parameters.
    collections: its other variables (e.g. {'batch_stats': ...}), possibly empty.
    *args, **kwargs: the call's inputs.
    train: training mode (batch statistics of this batch, collections updated).
  Returns:
    (output, collections): the new collections when `train` and the module has any, else
    the given collections unchanged.
  """
  variables = {"params": params, **collections}
  if method is not None:
    kwargs["method"] = method
  if train and collections:
    out, updates = module.apply(variables, *args, train=train, mutable=list(collections),
                                **kwargs)
    return out, {**collections, **updates}
  return module.apply(variables, *args, train=train, **kwargs), dict(collections)
