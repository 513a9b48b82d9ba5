"""User errors: the problem and its fix in one line, printed without a traceback."""


class UserError(Exception):
    """Bad input from the user (a path, an option, a missing device). Exit status 2."""

    exit_code = 2
