"""User errors: the problem and its fix in one line, printed without a traceback."""


class UserError(Exception):
    """Bad input from the user (a path, an option, a missing device). Exit status 2."""

    exit_code = 2


class Unavailable(UserError):
    """A case (framework, variant, device) cannot run on this machine, e.g. torch.compile without
    the C++ compiler its inductor backend needs. Raised when the twin is built, with the reason,
    so the harness marks the case "unavailable" instead of failing the run."""
