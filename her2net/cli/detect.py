"""`her2net detect`: not built yet (see the open issues)."""

from __future__ import annotations

import sys


def add_parser(subparsers):
    parser = subparsers.add_parser("detect", help="(not built yet)", description="Not built yet.")
    parser.add_argument("args", nargs="*", help="(not built yet)")
    parser.set_defaults(_not_built=True)
    return parser


def run(args) -> int:
    print("her2net: error: 'her2net detect' is not built yet", file=sys.stderr)
    return 3
