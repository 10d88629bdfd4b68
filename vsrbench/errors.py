"""Errors a user can act on. The CLI prints their message and exits with status 2."""


class VsrbenchError(Exception):
    """An error caused by input, configuration or data, with a message naming the fix."""
