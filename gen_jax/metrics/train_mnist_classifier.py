"""Trains the MNIST feature classifier shipped as `mnist_classifier.msgpack`.

  python -m gen_jax.metrics.train_mnist_classifier --out gen_jax/metrics/mnist_classifier.msgpack

Deterministic: the data order is `gen_jax.data.batch_indices` of a fixed key, the
augmentation noise is `fold_in(key, step)`, everything runs on one device (the first) so
the result does not depend on how many devices are visible, and the weights are written
with `flax.serialization.to_bytes` (msgpack, no timestamps). On one machine two runs give
byte-identical files; another CPU model or XLA version may round differently.
"""

from __future__ import annotations

import argparse
import time

import flax.serialization
import jax
import jax.numpy as jnp
import numpy as np
import optax

from gen_jax.data import batch_indices
from gen_jax.data import load_dataset
from gen_jax.nets.mnist_classifier import MNISTClassifier

SEED = 0
EPOCHS = 12
BATCH_SIZE = 64
LEARNING_RATE = 1e-3
MAX_SHIFT = 2  # pixels of random translation: with only 4,000 digits this is worth ~1%.


def _random_shift(key: jax.Array, images: jax.Array) -> jax.Array:
  """Translates each image by an integer offset in [-MAX_SHIFT, MAX_SHIFT]^2 (zero fill)."""
  n, h, w, _ = images.shape
  padded = jnp.pad(images, ((0, 0), (MAX_SHIFT, MAX_SHIFT), (MAX_SHIFT, MAX_SHIFT), (0, 0)))
  offsets = jax.random.randint(key, (n, 2), 0, 2 * MAX_SHIFT + 1)
  crop = lambda img, o: jax.lax.dynamic_slice(img, (o[0], o[1], 0), (h, w, img.shape[-1]))
  return jax.vmap(crop)(padded, offsets)


def train(*, seed: int = SEED, epochs: int = EPOCHS, verbose: bool = True) -> tuple[dict, float]:
  """Trains on the embedded MNIST train split; returns (params, test-split accuracy)."""
  train_set = load_dataset("mnist", "train")
  test_set = load_dataset("mnist", "test")
  device = jax.devices()[0]
  model = MNISTClassifier()
  key = jax.random.key(seed)
  init_key, data_key, aug_key = jax.random.split(key, 3)
  params = model.init(init_key, jnp.zeros((1, 28, 28, 1)))["params"]
  steps_per_epoch = len(train_set) // BATCH_SIZE
  steps = epochs * steps_per_epoch
  optimizer = optax.adam(optax.cosine_decay_schedule(LEARNING_RATE, steps))
  state = jax.device_put((params, optimizer.init(params)), device)

  def loss_fn(params, images, labels):
    _, logits = model.apply({"params": params}, images)
    return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()

  @jax.jit
  def step(state, images, labels, key):
    params, opt_state = state
    images = _random_shift(key, images)
    loss, grads = jax.value_and_grad(loss_fn)(params, images, labels)
    updates, opt_state = optimizer.update(grads, opt_state, params)
    return (optax.apply_updates(params, updates), opt_state), loss

  start = time.time()
  for s in range(steps):
    idx = batch_indices(data_key, s, num_examples=len(train_set), batch_size=BATCH_SIZE)
    batch = jax.device_put((train_set.images[idx], train_set.labels[idx]), device)
    state, loss = step(state, *batch, jax.random.fold_in(aug_key, s))
    if verbose and (s + 1) % steps_per_epoch == 0:
      print(f"epoch {(s + 1) // steps_per_epoch:3d}  loss {float(loss):.4f}  "
            f"{time.time() - start:.1f}s", flush=True)
  params = jax.device_get(state[0])
  _, logits = jax.jit(model.apply)({"params": params}, jax.device_put(test_set.images, device))
  accuracy = float(np.mean(np.argmax(np.asarray(logits), -1) == test_set.labels))
  return params, accuracy


def main(argv: list[str] | None = None) -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--out", required=True, help="where to write the msgpack weights")
  parser.add_argument("--seed", type=int, default=SEED)
  parser.add_argument("--epochs", type=int, default=EPOCHS)
  args = parser.parse_args(argv)
  start = time.time()
  params, accuracy = train(seed=args.seed, epochs=args.epochs)
  with open(args.out, "wb") as f:
    f.write(flax.serialization.to_bytes(params))
  print(f"test accuracy {accuracy:.4f} on the 1,000 embedded test digits; "
        f"{time.time() - start:.1f}s; wrote {args.out}")


if __name__ == "__main__":
  main()
