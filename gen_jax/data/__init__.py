"""Datasets: embedded offline MNIST and sklearn digits, TFDS data_source, IDX/NPZ folders."""

from gen_jax.data._batching import batch_indices
from gen_jax.data._batching import dynamic_binarize
from gen_jax.data._batching import static_binarize
from gen_jax.data._dataset import ArrayDataset
from gen_jax.data._dataset import stratified_split
from gen_jax.data._sources import DatasetNotFoundError
from gen_jax.data._sources import load_dataset
from gen_jax.data._sources import EMBEDDED_DATASETS
