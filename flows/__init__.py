"""Prefect flows and the `sara` command line: the ways in. The work itself is in transforms/."""

import os

# Defaults measured on this project's machines: the temporary Prefect API needs ~10 s to start
# (the default timeout is 20 s), and nothing should phone home.
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
