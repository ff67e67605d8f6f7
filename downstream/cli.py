"""`musiczoo` commands of `downstream`."""


def add_commands(commands):
    """Add this package's sub-commands to the `musiczoo` parser's commands."""
