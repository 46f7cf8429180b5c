"""``python -m train fit --config configs/synthetic.yaml``, ``python -m train export ...`` and
``python -m train calibrate ...``."""

import sys


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] == "export":
        from train.export import main as export_main

        return export_main(argv[1:])
    if argv and argv[0] == "calibrate":
        from train.calibrate import main as calibrate_main

        return calibrate_main(argv[1:])
    from train.cli import run_cli

    run_cli(argv)
    return 0


if __name__ == "__main__":
    sys.exit(main())
