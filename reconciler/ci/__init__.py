"""Continuous-integration glue: the GitHub composite action's entry point (``action.yml``)."""
