"""The audit (design §6, §8): fetch every target, classify what it runs, judge each bundle as of
now, and say what fails the policy.

``auditor`` wires the pure cores to git and the sources; ``results`` are the audit's plain data
(and its JSON); ``verdict`` is the one place that decides stalled and quarantined; ``plan``,
``parity`` and ``validate`` are the audit's other questions. Nothing here writes a target.
"""
