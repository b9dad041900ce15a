"""`python evaluate.py ...`: the same command as `gnnpose-evaluate` (gnnpose_jax/evaluate.py),
kept at the project root for running from a checkout."""

from gnnpose_jax.evaluate import cli

if __name__ == "__main__":
    cli()
