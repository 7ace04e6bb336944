"""Sample-quality metrics: FID, KID, IS, improved precision/recall, PRD, bits/dim.

Pure metric functions take features ([N, d] arrays) and return scalars; feature extractors
turn images into features: the shipped MNIST classifier (`mnist_features`) or the FID
InceptionV3 (`inception_feature_extractor`, weights converted from pytorch-fid's file).
`evaluate_samples(key, real, fake)` does both for the experiments; `python -m gen_jax.metrics`
is the CLI. Functions that draw random numbers (KID subsets, IS splits, k-means / PRD) take
the key explicitly, typed (`jax.random.key`) or legacy uint32 (`jax.random.PRNGKey`).
"""

from gen_jax.metrics._bits_per_dim import bits_per_dim
from gen_jax.metrics._evaluate import evaluate_samples
from gen_jax.metrics._features import FeatureExtractor
from gen_jax.metrics._features import InceptionWeightsNotFoundError
from gen_jax.metrics._features import inception_feature_extractor
from gen_jax.metrics._features import load_inception_variables
from gen_jax.metrics._features import load_mnist_classifier_params
from gen_jax.metrics._features import mnist_feature_extractor
from gen_jax.metrics._features import mnist_features
from gen_jax.metrics._frechet import frechet_distance
from gen_jax.metrics._frechet import frechet_inception_distance
from gen_jax.metrics._inception_score import inception_score
from gen_jax.metrics._kid import gaussian_mixture_kernel
from gen_jax.metrics._kid import kernel_inception_distance
from gen_jax.metrics._kid import mmd2
from gen_jax.metrics._kid import mmd2_unbiased
from gen_jax.metrics._kid import polynomial_kernel
from gen_jax.metrics._prd import kmeans
from gen_jax.metrics._prd import prd
from gen_jax.metrics._prd import prd_curve
from gen_jax.metrics._prd import prd_f_beta
from gen_jax.metrics._precision_recall import knn_radii
from gen_jax.metrics._precision_recall import precision_recall
from gen_jax.metrics._statistics import GaussianStatistics
from gen_jax.metrics._statistics import gaussian_statistics
