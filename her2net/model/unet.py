"""The her2net U-Net: a label-centre heatmap plus a sub-pixel offset field (plain torch)."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["UNet", "DEFAULT_MODEL_CONFIG"]

DEFAULT_MODEL_CONFIG = {"channels": [16, 32, 64, 128], "in_channels": 1, "space_to_depth": 2}


class _ConvBlock(nn.Sequential):
    def __init__(self, in_channels: int, out_channels: int):
        super().__init__(
            nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
        )


class UNet(nn.Module):
    """U-Net that maps a normalised micrograph to a heatmap logit and (dx, dy) offsets.

    Parameters
    ----------
    channels : sequence of int
        Feature channels per resolution level, from full resolution down. The number of levels
        sets the down-sampling factor ``2 ** (len(channels) - 1)``.
    in_channels : int
        Input channels (1: grey micrograph).

    Notes
    -----
    ``forward(x)`` takes ``x`` of shape (B, in_channels, H, W), H and W multiples of
    :attr:`size_multiple`, and returns (B, 3, H, W): channel 0 is the logit of "a label centre
    lies in this pixel's neighbourhood"; channels 1 and 2 are the offsets (dx, dy) in pixels
    from the pixel centre to the label centre, so a label sits at (col + dx, row + dy).
    """

    def __init__(self, channels=(16, 32, 64, 128), in_channels: int = 1, space_to_depth: int = 2):
        super().__init__()
        channels = [int(c) for c in channels]
        if len(channels) < 2 or min(channels) < 1:
            raise ValueError(f"channels must list >= 2 positive widths, got {channels}")
        self.channels = channels
        self.space_to_depth = int(space_to_depth)
        self.encoders = nn.ModuleList()
        # Space-to-depth: the network runs at 1/s of the input resolution on s*s channels and
        # predicts s*s outputs per cell, shuffled back to full resolution (cheap on CPU).
        previous = in_channels * self.space_to_depth**2
        for width in channels:
            self.encoders.append(_ConvBlock(previous, width))
            previous = width
        self.decoders = nn.ModuleList()
        for level in range(len(channels) - 2, -1, -1):
            self.decoders.append(_ConvBlock(channels[level + 1] + channels[level], channels[level]))
        s2 = self.space_to_depth**2
        self.head = nn.Conv2d(channels[0], 3 * s2, 1)
        nn.init.constant_(self.head.bias, 0.0)
        with torch.no_grad():
            self.head.bias[:s2] = -4.0  # start with a low prior of label centres

    @property
    def size_multiple(self) -> int:
        """Input height and width must be multiples of this."""
        return self.space_to_depth * 2 ** (len(self.channels) - 1)

    @property
    def receptive_field_px(self) -> int:
        """Approximate receptive field in input pixels (two 3x3 convolutions per level)."""
        levels = len(self.channels)
        encoder = sum(4 * 2**k for k in range(levels))
        decoder = sum(4 * 2**k for k in range(levels - 1))
        return self.space_to_depth * (1 + encoder + decoder)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.space_to_depth > 1:
            x = F.pixel_unshuffle(x, self.space_to_depth)
        skips = []
        for level, encoder in enumerate(self.encoders):
            if level > 0:
                x = F.max_pool2d(x, 2)
            x = encoder(x)
            skips.append(x)
        x = skips.pop()
        for decoder in self.decoders:
            skip = skips.pop()
            x = F.interpolate(x, size=skip.shape[-2:], mode="nearest")
            x = decoder(torch.cat([x, skip], dim=1))
        out = self.head(x)
        if self.space_to_depth > 1:
            out = F.pixel_shuffle(out, self.space_to_depth)
        return out
