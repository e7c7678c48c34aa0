"""`python -m flows.cli`: the sara command line."""

from flows.cli import app

app(prog_name="sara")
