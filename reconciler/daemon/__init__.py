"""The long-running reconciler (design §8, §9): a loop of fetch, audit and rollout steps, plus its
metrics and status endpoints on 127.0.0.1. A thin shell: it decides nothing the library does not.
"""
