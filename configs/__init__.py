"""Experiment configs (`ml_collections`): `base.py` holds every key; the others override a few."""
