"""The ``hub`` command line: the composition root, the only module that sees every package."""

from cli.main import app, main

__all__ = ["app", "main"]
