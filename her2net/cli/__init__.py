"""Command-line interface: a thin argparse layer over the library, one module per subcommand."""
