"""Shipped inference checkpoints, installed as the package data ``her2net.checkpoints``."""
