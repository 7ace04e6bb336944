"""Default config: Gibbs sampling on the seed notes' 2×2 table P = [[0.1, 0.4], [0.3, 0.2]].

Every key can be overridden: --config.<key>=<value>.
"""

import ml_collections


def get_config() -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()
  c.seed = 0                         # root of the chains' keys
  c.num_steps = 10000                # Gibbs sweeps per chain
  c.num_chains = 64                  # independent chains, all started at init
  c.table = "0.1,0.4;0.3,0.2"        # probability table P(X, Y): rows (X) split by ';', columns (Y) by ','
  c.init = "0,0"                     # starting state (x, y) of every chain
  c.num_trace_steps = 200            # sweeps of chain 0 drawn in the trace panel
  return c
