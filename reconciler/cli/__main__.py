"""``python -m reconciler.cli``: the same command as ``reconciler``."""

from . import main

main()
