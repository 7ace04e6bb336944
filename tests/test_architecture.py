"""The layering of docs/ARCHITECTURE.md, checked on the import statements of every module.

  core       gen_jax.random, gen_jax.validation            (jax, numpy, each other)
  building   gen_jax.losses, gen_jax.nets, gen_jax.data    (core)
  metrics    gen_jax.metrics                               (core, building)
  substrate  gen_jax.training                              (core, data)
  families   gen_jax.vae, gen_jax.gan, gen_jax.factorized, gen_jax.energy, gen_jax.flows,
             gen_jax.diffusion, gen_jax.autoregressive
             (all of the above; never another family)
Experiments and benchmarks may import anything but the conv implementation, which only
gen_jax.nets names: model code gets the fastest exact convolution from nets.Conv.
"""

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
CORE = {"random", "validation"}
BUILDING = CORE | {"losses", "nets", "data"}
FAMILIES = {"vae", "gan", "factorized", "energy", "flows", "diffusion", "autoregressive"}
ALLOWED = {
    "random": set(), "validation": {"random"},
    "losses": CORE, "nets": CORE, "data": CORE,
    "metrics": BUILDING,
    "training": CORE | {"data"},
    **{family: BUILDING | {"training", "metrics", family} for family in FAMILIES},
}


def _gen_jax_imports(path: pathlib.Path) -> list[str]:
  """Dotted names of the gen_jax modules `path` imports (any nesting level)."""
  names = []
  for node in ast.walk(ast.parse(path.read_text(), str(path))):
    if isinstance(node, ast.Import):
      names += [a.name for a in node.names if a.name.startswith("gen_jax")]
    elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("gen_jax"):
      names += [node.module] + [f"{node.module}.{a.name}" for a in node.names]
  return names


def _package(path: pathlib.Path) -> str:
  rel = path.relative_to(ROOT / "gen_jax")
  return rel.parts[0].removesuffix(".py")


def _modules(*folders):
  for folder in folders:
    yield from sorted((ROOT / folder).rglob("*.py"))


def test_every_package_is_in_a_layer():
  packages = {_package(p) for p in _modules("gen_jax") if p.name != "__init__.py" or
              p.parent != ROOT / "gen_jax"}
  assert packages <= set(ALLOWED), sorted(packages - set(ALLOWED))


@pytest.mark.parametrize("path", list(_modules("gen_jax")), ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_follow_the_layers(path):
  if path.parent == ROOT / "gen_jax" and path.name == "__init__.py":
    return
  own = _package(path)
  for name in _gen_jax_imports(path):
    parts = name.split(".")
    if len(parts) < 2 or parts[1] not in ALLOWED:
      continue  # `from gen_jax import x` lists x itself as gen_jax.x below
    target = parts[1]
    assert target == own or target in ALLOWED[own], (
        f"{path.relative_to(ROOT)} ({own}) imports {name}: {own} may import only "
        f"{sorted(ALLOWED[own])}")


def test_only_nets_names_the_conv_implementation():
  offenders = [str(p.relative_to(ROOT)) for p in _modules("gen_jax", "experiments", "benchmarks")
               if not p.is_relative_to(ROOT / "gen_jax" / "nets")
               and any(n.startswith("gen_jax.nets.fast_conv") for n in _gen_jax_imports(p))]
  assert not offenders


def test_importing_the_library_leaves_the_root_logger_alone():
  # orbax installs a root handler when imported; gen_jax imports it only when a
  # checkpoint is written, so a program's own logging.basicConfig() still takes effect.
  import subprocess  # pylint: disable=g-import-not-at-top
  import sys  # pylint: disable=g-import-not-at-top
  code = ("import logging\n"
          "import gen_jax.data, gen_jax.factorized, gen_jax.gan, gen_jax.losses, "
          "gen_jax.metrics, gen_jax.nets, gen_jax.training, gen_jax.vae\n"
          "print(len(logging.getLogger().handlers))\n")
  out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                       text=True, timeout=300, check=True)
  assert out.stdout.strip() == "0", out.stderr[-2000:]
