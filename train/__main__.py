"""``python -m train fit --config configs/synthetic.yaml``, ``python -m train export ...``,
``python -m train calibrate ...`` and ``python -m train average ...``.

Bad input (:class:`her2net.errors.InputError`) ends with one line ``train: error: ...`` on stderr
and exit status 2.
"""

import sys


def main(argv=None):
    args = sys.argv[1:] if argv is None else list(argv)
    from her2net.errors import InputError

    try:
        return _run(args, from_python=argv is not None)
    except InputError as exc:
        print(f"train: error: {exc}", file=sys.stderr)
        return 2


def _run(args, *, from_python: bool) -> int:
    if args and args[0] == "export":
        from train.export import main as export_main

        return export_main(args[1:])
    if args and args[0] == "calibrate":
        from train.calibrate import main as calibrate_main

        return calibrate_main(args[1:])
    if args and args[0] == "average":
        from train.average import main as average_main

        return average_main(args[1:])
    from train.cli import run_cli

    # Run as a program, LightningCLI reads sys.argv itself (given both, it warns).
    run_cli(args if from_python else None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
