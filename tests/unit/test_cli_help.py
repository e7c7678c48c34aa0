"""Every `sara ... --help` shows its whole text: nothing eaten by Rich markup, every option explained, and
an example for every command."""

from __future__ import annotations

import inspect
import re

import pytest
import typer
import typer.main
import typer.models
from typer.testing import CliRunner

from flows.cli import app
from tests.support.cli import readme_commands

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
BOX = re.compile(r"[│╭╮╰╯─┃━┏┓┗┛]")
BRACKETED = re.compile(r"\[[^\]\n]*\]")


def _flat(text: str) -> str:
    """Whitespace-normalized text without colour codes or panel borders: immune to Rich's wrapping."""
    return " ".join(BOX.sub(" ", ANSI.sub("", text)).split())


def _walk(cmd, path: tuple[str, ...] = ()):
    yield path, cmd
    if hasattr(cmd, "commands"):  # a group (Typer's own click)
        for name, sub in cmd.commands.items():
            yield from _walk(sub, (*path, name))


def _text(value) -> str:
    """A help text as written in the source, as Typer reads it (a Default placeholder means none)."""
    return inspect.cleandoc(value if isinstance(value, str) else "").partition("\f")[0]


def _sources(t: typer.Typer, path: tuple[str, ...] = ()):
    """(path, help, {parameter: help}) for the app and every command and group, read from the Python source
    (docstrings, help= strings), never from the built click tree, which is what gets rendered."""
    yield path, _text(t.info.help), {}
    for ci in t.registered_commands:
        params = {name: p.default.help for name, p in inspect.signature(ci.callback).parameters.items()
                  if isinstance(p.default, typer.models.ParameterInfo)}
        name = ci.name if isinstance(ci.name, str) else typer.main.get_command_name(ci.callback.__name__)
        help_ = ci.help if isinstance(ci.help, str) else inspect.getdoc(ci.callback)
        yield (*path, name), _text(help_), params
    for gi in t.registered_groups:
        sub = gi.typer_instance
        rows = list(_sources(sub, (*path, gi.name)))
        yield rows[0][0], _text(gi.help) or rows[0][1], {}
        yield from rows[1:]


SOURCES = list(_sources(app))
IDS = [" ".join(p) or "sara" for p, _, _ in SOURCES]
SUMMARIES = {p: h.split("\n\n")[0] for p, h, _ in SOURCES}


def test_readme_command_table_matches_the_cli():
    """Every command of the CLI has a row in the README's table, and every row names a real command."""
    leaves = {" ".join(p) for p, cmd in _walk(typer.main.get_command(app)) if p and not hasattr(cmd, "commands")}
    listed = readme_commands()
    assert len(listed) >= 10, listed  # the parser found the table
    assert leaves - listed == set(), f"commands missing from the README's Commands table: {leaves - listed}"
    assert listed - leaves == set(), f"README lists commands the CLI does not have: {listed - leaves}"


def test_every_command_is_checked():
    """The source walk finds every command the CLI has (so no command escapes the checks below)."""
    built = {path for path, _ in _walk(typer.main.get_command(app))}
    assert built == {p for p, _, _ in SOURCES}


def _render(path: tuple[str, ...]) -> str:
    res = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "200", "TERMINAL_WIDTH": "200"})
    assert res.exit_code == 0, res.output
    return res.output


@pytest.mark.parametrize(("path", "text", "params"), SOURCES, ids=IDS)
def test_help_text_survives_whole(path, text, params):
    cmd = f"sara {' '.join(path)} --help".replace("  ", " ")
    out = _flat(_render(path))
    assert text, f"{cmd}: no help text"
    # every bracketed token ([publish], [0,1), [schedules.<name>] ...) verbatim
    for token in BRACKETED.findall(text):
        assert token in out, f"{token!r} is missing from `{cmd}`"
    # and the whole text, paragraph by paragraph
    for para in text.split("\n\n"):
        assert _flat(para) in out, f"lost or altered in `{cmd}`:\n{para}"
    for name, ph in params.items():
        assert ph, f"{cmd}: {name} has no help text"
        for token in BRACKETED.findall(ph):
            assert token in out, f"{token!r} (help of {name}) is missing from `{cmd}`"
        assert _flat(ph) in out, f"help of {name} lost or altered in `{cmd}`"
    # a group lists each of its commands with its summary
    for sub, summary in SUMMARIES.items():
        if sub[:-1] == path and len(sub) == len(path) + 1:
            assert f"{sub[-1]} {_flat(summary)}" in out, f"`{cmd}` lost the summary of {sub[-1]}"


@pytest.mark.parametrize(("path", "text"), [(p, t) for p, t, _ in SOURCES], ids=IDS)
def test_help_has_an_example(path, text):
    """Each help shows at least one command line to copy, after a paragraph that starts "Example"."""
    prefix = " ".join(("sara", *path))
    paras = text.split("\n\n")
    start = next((i for i, p in enumerate(paras) if p.lstrip().lower().startswith("example")), len(paras))
    assert prefix in "\n\n".join(paras[start:]), (
        f"`{prefix} --help` has no example paragraph (one starting 'Example') showing `{prefix} ...`")
    lines = [ln for ln in _render(path).splitlines() if prefix in ln and "Usage:" not in ln]
    assert lines, f"no example line rendered in `{prefix} --help`"
