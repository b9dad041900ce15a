"""`python train.py ...`: the same command as `gnnpose-train` (gnnpose_jax/train.py), kept at
the project root for running from a checkout."""

from gnnpose_jax.train import cli

if __name__ == "__main__":
    cli()
