"""Benchmark: the canary judge (design §12.1) on one step's samples: 10 metrics x 20 segments x
2 sides x 1,000 per-interval samples. Goal: <= 100 ms.

Two cases, each the median of 7 warm runs (scipy already imported; the first, cold call with
scipy's import is printed too): every metric Mann-Whitney (the worst case: 200 cells of
2 x 1,000 values, ranked by scipy in one call), and half proportion (counts summed from the
1,000 per-interval counts, the summing included), half Mann-Whitney. Wall time and CPU time
(the process's own, which other work on a shared machine does not inflate) are printed.

Run: ``.venv/bin/python -m tests.bench.bench_judge``.
"""

from __future__ import annotations

import os
import statistics
import time

import numpy as np

from reconciler.canary.judge import Counts, Pair, Rule, Series, judge

METRICS, SEGMENTS, SAMPLES = 10, 20, 1000
GOAL_MS = 100.0
RUNS = 7


def mann_whitney_cells(rng: np.random.Generator) -> dict[str, Pair]:
    values = rng.lognormal(0.0, 0.3, size=(SEGMENTS, 2, SAMPLES))
    return {
        f"s{s}": Pair(Series(tuple(values[s, 0].tolist())), Series(tuple(values[s, 1].tolist())))
        for s in range(SEGMENTS)
    }


def main() -> None:
    rng = np.random.default_rng(1)
    mw_rules = [Rule(f"m{i}", "mann-whitney", tolerance=0.1) for i in range(METRICS)]
    mw = {rule.name: mann_whitney_cells(rng) for rule in mw_rules}
    requests = rng.poisson(200, size=(METRICS, SEGMENTS, 2, SAMPLES)).tolist()
    refusals = rng.poisson(16, size=(METRICS, SEGMENTS, 2, SAMPLES)).tolist()

    def mixed() -> tuple[list[Rule], dict[str, dict[str, Pair]]]:
        rules, samples = [], {}
        for i in range(METRICS):
            if i % 2:
                rules.append(mw_rules[i])
                samples[mw_rules[i].name] = mw[mw_rules[i].name]
                continue
            rule = Rule(f"p{i}", "proportion", tolerance=0.05)
            rules.append(rule)
            samples[rule.name] = {
                f"s{s}": Pair(
                    *(
                        Counts(sum(refusals[i][s][side]), sum(requests[i][s][side]))
                        for side in (0, 1)
                    )
                )
                for s in range(SEGMENTS)
            }
        return rules, samples

    def all_mw() -> tuple[list[Rule], dict[str, dict[str, Pair]]]:
        return mw_rules, mw

    cold = time.perf_counter()
    judge(*all_mw(), alpha=0.05, steps=4, min_samples=50)
    cold_ms = (time.perf_counter() - cold) * 1000
    print(f"canary judge: {METRICS} metrics x {SEGMENTS} segments x 2 sides x {SAMPLES} samples")
    print(f"  load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"  first call, scipy imported in it: {cold_ms:7.1f} ms")
    for name, case in (("all Mann-Whitney", all_mw), ("half proportion", mixed)):
        times, cpu = [], []
        for _ in range(RUNS):
            start, start_cpu = time.perf_counter(), time.process_time()
            verdict = judge(*case(), alpha=0.05, steps=4, min_samples=50)
            times.append((time.perf_counter() - start) * 1000)
            cpu.append((time.process_time() - start_cpu) * 1000)
        assert len(verdict.cells) == METRICS * SEGMENTS
        median = statistics.median(times)
        mark = "ok" if median <= GOAL_MS else "OVER"
        print(
            f"  {name:<18} median {median:7.1f} ms (CPU {statistics.median(cpu):6.1f} ms)"
            f"   goal <= {GOAL_MS:.0f} ms  {mark}"
        )


if __name__ == "__main__":
    main()
