"""LightningCLI for her2net training: ``python -m train fit --config configs/synthetic.yaml``."""

from __future__ import annotations

from lightning.pytorch.cli import LightningCLI

from train.datamodule import TileDataModule
from train.module import DetectorModule

__all__ = ["Her2netCLI", "run_cli"]


class Her2netCLI(LightningCLI):
    """LightningCLI that keeps the model's and the data's native pixel size in one place."""

    def add_arguments_to_parser(self, parser):
        parser.link_arguments("data.pixel_size_nm", "model.pixel_size_nm")


def run_cli(args=None):
    """Run the Lightning CLI (fit, validate, ...) with ``args`` (default: sys.argv)."""
    return Her2netCLI(DetectorModule, TileDataModule, args=args,
                      save_config_kwargs={"overwrite": True})
