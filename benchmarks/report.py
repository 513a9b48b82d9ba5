"""Placeholder: being written (replaced before this lands)."""


def add_arguments(p):
    pass


def main(args):
    raise NotImplementedError
