"""The training substrate shared by every family: state, steps, sharding, checkpoints, loop."""

from gen_jax.training import cli
from gen_jax.training.allocator import keep_freed_host_memory
from gen_jax.training.checkpoint import CheckpointError
from gen_jax.training.checkpoint import Checkpointer
from gen_jax.training.compiler import step_compiler_options
from gen_jax.training.config import common_config
from gen_jax.training.config import load_train_test
from gen_jax.training.config import validate_config
from gen_jax.training.loop import compile_steps
from gen_jax.training.loop import guard_non_finite
from gen_jax.training.loop import NonFiniteError
from gen_jax.training.loop import Task
from gen_jax.training.loop import train
from gen_jax.training.loop import without_metrics
from gen_jax.training.sharding import batch_sharding
from gen_jax.training.sharding import data_mesh
from gen_jax.training.sharding import process_rows
from gen_jax.training.sharding import put_batch
from gen_jax.training.sharding import put_process_batch
from gen_jax.training.sharding import replicated
from gen_jax.training.state import TrainState
from gen_jax.training.step import apply_gradients
from gen_jax.training.step import make_train_step
from gen_jax.training.step import minimize
from gen_jax.training.evaluation import map_batches
