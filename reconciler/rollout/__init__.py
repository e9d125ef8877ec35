"""Rollouts (design §10): a pure state machine (:mod:`.engine`) and the driver that runs it."""
