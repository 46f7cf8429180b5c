"""Entry point of the ``her2net`` command.

Each subcommand lives in ``her2net/cli/<name>.py`` and provides ``add_parser(subparsers)`` (which
registers its options and returns the parser) and ``run(args) -> int`` (the exit status). Modules
import torch and other heavy libraries inside ``run`` only, so that ``--help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from her2net._version import __version__

SUBCOMMANDS = ("simulate", "detect", "analyze", "run", "evaluate", "demo", "info")

EXIT_INPUT_ERROR = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="her2net",
        description=(
            "Find nanoparticle labels on HER2 receptors in electron micrographs and call, per "
            "cell, monomers, dimers and clusters."
        ),
    )
    parser.add_argument("--version", action="version", version=f"her2net {__version__}")
    parser.add_argument(
        "--debug", action="store_true", help="show full tracebacks and debug messages"
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMANDS:
        module = importlib.import_module(f"her2net.cli.{name}")
        sub = module.add_parser(subparsers)
        sub.set_defaults(_run=module.run)
        # Allow --debug/--quiet after the subcommand too.
        sub.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
        sub.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown and not getattr(args, "_not_built", False):
        parser.parse_args(argv)  # reports the unknown arguments and exits 2
    if args.command is None:
        parser.print_help()
        return EXIT_INPUT_ERROR
    level = logging.DEBUG if args.debug else (logging.WARNING if args.quiet else logging.INFO)
    logging.basicConfig(level=level, format="%(message)s", stream=sys.stderr)
    try:
        return int(args._run(args) or 0)
    except KeyboardInterrupt:
        print("her2net: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`her2net info | head`): stop quietly, as other tools do.
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except (ValueError, TypeError, OSError) as exc:
        # InputError is a ValueError. Anything the user can fix gets one line and exit 2.
        if args.debug:
            raise
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if isinstance(exc, OSError) and getattr(exc, "filename", None) and str(exc.filename) not in message:
            message = f"{exc.filename}: {message}"
        print(f"her2net: error: {message}", file=sys.stderr)
        return EXIT_INPUT_ERROR


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
