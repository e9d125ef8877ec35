"""Traffic canaries judged against a live baseline (design §12.1): the judge, a pure function of
the samples Prometheus gave for both digests, and when a step looks at them."""
