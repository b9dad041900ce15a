"""`python -m gnnpose_jax.data.synthetic`: see `cli.main`."""

from gnnpose_jax.cli import run_cli
from gnnpose_jax.data.synthetic.cli import main

run_cli(main)
