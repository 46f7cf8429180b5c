"""Exceptions that her2net raises for bad user input."""

__all__ = ["InputError"]


class InputError(ValueError):
    """Bad user input: a file that cannot be read, an option out of range, a missing column.

    The message is one line that names the file or parameter and the problem. The CLI prints it
    on stderr and exits with status 2.
    """
