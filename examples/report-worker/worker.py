"""Nightly report worker: summarises latency samples with numpy and prints one JSON line per report.

The requirements also list scipy and pandas, left over from an earlier version; nothing imports them now.
"""

import json
import os
import time

import numpy as np


def summarise(samples: np.ndarray) -> dict[str, float]:
    p50, p95, p99 = np.percentile(samples, [50, 95, 99])
    return {"count": float(samples.size), "mean": float(samples.mean()), "p50": float(p50),
            "p95": float(p95), "p99": float(p99)}


def main() -> None:
    rng = np.random.default_rng(int(os.environ.get("REPORT_SEED", "7")))
    interval = float(os.environ.get("REPORT_INTERVAL_S", "60"))
    while True:
        samples = rng.lognormal(mean=3.0, sigma=0.5, size=10_000)
        print(json.dumps(summarise(samples)), flush=True)
        if os.environ.get("REPORT_ONCE"):
            return
        time.sleep(interval)


if __name__ == "__main__":
    main()
