"""Gates for what a config diff cannot see (issue 13): the I/O side of metric analysis on
Prometheus (:mod:`.prometheus`), of reading a target's recent outputs (:mod:`.outputs`), and
the output contract those outputs must keep (:mod:`.contract`, pure).

Below the audit and the rollout, which decide what an answer means for a finding or a wave; above
the sources, whose HTTP client, error family and caps they share. Every request is bounded by a
timeout and every answer by a size.
"""
