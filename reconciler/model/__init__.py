"""Pydantic types of the two contracts a user writes: bundle.yaml (§4) and targets/<env>.yaml (§5).

No I/O here: loaders in :mod:`reconciler.config` read the files and hand plain data in.
"""
