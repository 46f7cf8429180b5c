"""LightningCLI for her2net training: ``python -m train fit --config configs/synthetic.yaml``."""

from __future__ import annotations

from pathlib import Path

from lightning.pytorch.cli import LightningCLI

from her2net.errors import InputError
from train.datamodule import TileDataModule
from train.module import DetectorModule

__all__ = ["Her2netCLI", "run_cli", "find_last_checkpoint"]


class Her2netCLI(LightningCLI):
    """LightningCLI that keeps the model's and the data's native pixel size in one place,
    rebuilds the training loader every epoch (new tiles each epoch), resumes ``--ckpt_path
    last`` from the newest ``last.ckpt`` of the run's folder, and reads the data before the
    logger makes a run folder (bad input leaves no empty ``version_N``)."""

    def add_arguments_to_parser(self, parser):
        parser.link_arguments("data.pixel_size_nm", "model.pixel_size_nm")
        # Tiles are drawn from (seed, epoch, index): Lightning builds the training loader once
        # unless told to rebuild it every epoch, and then every epoch repeats epoch 0's tiles.
        parser.set_defaults({"trainer.reload_dataloaders_every_n_epochs": 1})

    def before_fit(self):
        config = self.config_init[self.subcommand]
        if config.get("ckpt_path") == "last":
            # Lightning looks for 'last' in the new run's own version folder, which is empty,
            # and then starts from scratch with a warning.
            roots = [self.trainer.default_root_dir]
            if self.trainer.logger is not None and getattr(self.trainer.logger, "save_dir", None):
                roots.append(self.trainer.logger.save_dir)
            config["ckpt_path"] = str(find_last_checkpoint(roots))
            print(f"resuming from {config['ckpt_path']}", flush=True)
        # Lightning calls setup() after the logger has made logs/version_N; an InputError there
        # would leave an empty run folder and shift the next run's version.
        self.datamodule.setup("fit")


def find_last_checkpoint(roots) -> Path:
    """The most recently written ``last*.ckpt`` under any of ``roots``.

    Raises
    ------
    InputError
        With a one-line message when there is none (nothing to resume).
    """
    found = [p for root in dict.fromkeys(str(r) for r in roots) if Path(root).is_dir()
             for p in Path(root).glob("**/last*.ckpt") if p.is_file()]
    if not found:
        where = " or ".join(dict.fromkeys(str(r) for r in roots))
        raise InputError(f"--ckpt_path last: no last.ckpt under {where}: nothing to resume "
                         "(leave --ckpt_path out to start a new run)")
    return max(found, key=lambda p: p.stat().st_mtime)


def run_cli(args=None):
    """Run the Lightning CLI (fit, validate, ...) with ``args`` (None: LightningCLI reads
    ``sys.argv`` itself; give a list only when calling from Python)."""
    return Her2netCLI(DetectorModule, TileDataModule, args=args,
                      save_config_kwargs={"overwrite": True})
