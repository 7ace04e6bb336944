"""Datasets: one contract (`DataSource`: a dict of arrays per example, read by index) with
in-memory, binarized, 2-D toy and streaming (TFDS data_source) sources, and the stateless
batch order."""

from gen_jax.data._batching import batch_indices
from gen_jax.data._batching import check_data_keys
from gen_jax.data._batching import dynamic_binarize
from gen_jax.data._batching import prefetched
from gen_jax.data._batching import static_binarize
from gen_jax.data._batching import step_batch
from gen_jax.data._binarized import DynamicallyBinarized
from gen_jax.data._binarized import fixed_binarization_key
from gen_jax.data._binarized import fixed_binarize
from gen_jax.data._dataset import ArrayDataset
from gen_jax.data._dataset import DatasetInfo
from gen_jax.data._dataset import DataSource
from gen_jax.data._dataset import stratified_split
from gen_jax.data._sources import BINARIZED_DATASETS
from gen_jax.data._sources import DATASET_NAMES
from gen_jax.data._sources import DatasetNotFoundError
from gen_jax.data._sources import EMBEDDED_DATASETS
from gen_jax.data._sources import load_dataset
from gen_jax.data._streaming import TFDSSource
from gen_jax.data._toy import checkerboard
from gen_jax.data._toy import grid_modes
from gen_jax.data._toy import grid_of_gaussians
from gen_jax.data._toy import ring_modes
from gen_jax.data._toy import ring_of_gaussians
from gen_jax.data._toy import swiss_roll
from gen_jax.data._toy import TOY_DATASETS
from gen_jax.data._toy import TOY_TEST_SIZE
from gen_jax.data._toy import TOY_TRAIN_SIZE
from gen_jax.data._toy import toy_data_key
from gen_jax.data._toy import toy_dataset
from gen_jax.data._toy import two_moons
