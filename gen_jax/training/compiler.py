"""XLA compiler options for the train step, per platform.

On CPU, XLA can run convolutions through YNNPACK (its default for ordinary convolutions
in jaxlib 0.10) or through its Eigen kernels. Measured on the DCGAN layers (2-core AVX-512
CPU, batch 128, interleaved, ms; benchmarks/bench_dcgan.py times the whole step):

  14×14×64 → 7×7×128, 4×4 stride 2   forward   weight gradient
  YNNPACK                              13.1        18.4
  Eigen                                10.1        13.6

YNNPACK stays on for dots and reductions, where it is faster than Eigen. The option changes
which kernels run, not what is computed: results differ from the default only by float32
summation order, and remain bitwise reproducible run to run.
"""

from __future__ import annotations

from typing import Any

# YNNPACK fusion kinds kept on CPU: single dots and reductions (not convolutions).
CPU_YNN_FUSIONS = "LIBRARY_FUSION_TYPE_INDIVIDUAL_DOT,LIBRARY_FUSION_TYPE_REDUCE"


def step_compiler_options(platform: str) -> dict[str, Any]:
  """`jax.jit(..., compiler_options=...)` for train steps on `platform` ('cpu', 'gpu', ...)."""
  if platform == "cpu":
    return {"xla_cpu_experimental_ynn_fusion_type": CPU_YNN_FUSIONS}
  return {}
