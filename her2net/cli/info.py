"""`her2net info`: versions, compute devices and the shipped checkpoint's metadata."""

from __future__ import annotations

import json
import platform


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "info",
        help="print versions, torch devices and the shipped checkpoint's metadata",
        description="Print versions, torch device availability and the shipped checkpoint's metadata.",
    )
    parser.add_argument("--checkpoint", metavar="PATH", default=None,
                        help="describe this checkpoint (a path, or 'replicas') instead of the shipped one")
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")
    return parser


def run(args) -> int:
    from importlib.metadata import PackageNotFoundError, version

    import torch

    from her2net._version import __version__

    versions = {"her2net": __version__, "python": platform.python_version()}
    for name in ("torch", "torchvision", "numpy", "scipy", "pandas", "tifffile", "matplotlib",
                 "lightning", "albumentations", "rosettasciio", "mrcfile"):
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = None
    devices = {
        "cpu_threads": torch.get_num_threads(),
        "cuda_available": torch.cuda.is_available(),
        "cuda_devices": [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())],
        "mps_available": bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()),
    }
    checkpoint = _checkpoint_info(args.checkpoint)
    if args.checkpoint is not None and "status" in checkpoint:
        from her2net.errors import InputError

        status = checkpoint["status"]
        raise InputError(status if status.startswith(str(args.checkpoint))
                         else f"{args.checkpoint}: {status}")
    if args.json:
        print(json.dumps({"versions": versions, "devices": devices, "checkpoint": checkpoint},
                         indent=2, default=str))
        return 0
    print("her2net", __version__)
    print("\nVersions:")
    for name, value in versions.items():
        print(f"  {name:<15} {value or '(not installed)'}")
    print("\nDevices:")
    print(f"  CPU threads     {devices['cpu_threads']}")
    cuda = ", ".join(devices["cuda_devices"]) if devices["cuda_available"] else "not available"
    print(f"  CUDA            {cuda}")
    print("\nCheckpoint:")
    for key, value in checkpoint.items():
        if isinstance(value, (dict, list)):
            value = json.dumps(value, default=str)
            value = value if len(value) < 200 else value[:197] + "..."
        print(f"  {key:<22} {value}")
    if args.checkpoint is None:
        print("\nAlso shipped: `--checkpoint replicas`, a specialist for bright-field TEM of "
              "freeze-fracture replicas\n  (used without --checkpoint for dark labels on a textured "
              "background; `her2net info --checkpoint replicas` describes it)")
    return 0


def _checkpoint_info(path) -> dict:
    try:
        from her2net.model.checkpoint import describe_checkpoint
    except ImportError:
        return {"status": "the model package is not built yet"}
    return describe_checkpoint(path)  # None: the default shipped checkpoint
