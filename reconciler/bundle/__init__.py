"""The bundle as git holds it: rendering (design §7), the history index of its revisions, the
repository's objects, and the trust of its commits' signatures. Reads only; no target is seen.
"""
