"""Probe flow for the end-to-end schedule test in tests/e2e/test_serve.py.

    python tests/support/serve_probe.py MARKER_FILE [INTERVAL_SECONDS]

Serves deployment "probe" of flow "sara-serve-probe" on an interval schedule (default 5 s) the way
flows/serve.py's serve_all() does (`prefect.serve(flow.to_deployment(...))`), until terminated. Every
scheduled run appends its flow-run id to MARKER_FILE. Prefect's runner loads this file by path in each
run's subprocess, so it imports nothing from the project.
"""

from __future__ import annotations

import sys
from pathlib import Path

from prefect import flow

DEPLOYMENT = "probe"
FLOW = "sara-serve-probe"


@flow(name=FLOW, log_prints=False)
def probe(marker: str) -> str:
    from prefect.runtime import flow_run

    run_id = str(flow_run.id)
    with open(marker, "a", encoding="utf-8") as f:
        f.write(run_id + "\n")
    return run_id


def main(argv: list[str]) -> None:
    from prefect import serve

    marker = str(Path(argv[0]).resolve())
    interval = float(argv[1]) if len(argv) > 1 else 5.0
    serve(probe.to_deployment(name=DEPLOYMENT, interval=interval, parameters={"marker": marker}))


if __name__ == "__main__":
    main(sys.argv[1:])
