"""agent-reconciler: one git repo as the source of truth for an AI agent's whole config.

The package is layered (see ``.importlinter``): ``model`` and ``canonical`` <- ``diff`` and
``classify`` (pure cores) <- ``sources`` (I/O adapters) <- ``audit`` <- ``cli``.
"""

__version__ = "0.1.0"
