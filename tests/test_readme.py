"""The README cannot rot: its Python snippets run as printed (in a scratch folder), and its command lines
name real commands, flags, files and make targets."""

from __future__ import annotations

import contextlib
import io
import re
import shlex
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.S)


def _command_lines() -> list[list[str]]:
    lines = []
    for block in _blocks("bash"):
        for line in block.splitlines():
            line = line.split("   #")[0].split("  #")[0].strip()
            if line:
                lines.append(shlex.split(line))
    return lines


def test_the_readme_has_the_two_commands_first():
    first = _blocks("bash")[0].splitlines()
    assert [line.split()[:2] for line in first] == [["make", "demo"], ["make", "test"]]
    makefile = (ROOT / "Makefile").read_text()
    for target in ("demo", "test"):
        assert re.search(rf"^{target}:", makefile, flags=re.M), target
    assert "make test" in (ROOT / ".ci" / "run").read_text()  # CI runs the README's test command


def test_python_snippets_run_as_printed(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # the snippets save models: not into the repository
    namespace: dict = {}
    for block in _blocks("python"):
        exec(compile(block, "README.md", "exec"), namespace)  # noqa: S102 (our own README)
    out = capsys.readouterr().out
    assert "TitansForecaster" in out  # the forecast frames were printed
    assert (tmp_path / "etth1_model" / "config.json").is_file()


@pytest.mark.parametrize("argv", [a for a in _command_lines() if a[0] == "titans-seq"], ids=" ".join)
def test_command_lines_use_real_commands_flags_and_files(argv):
    from titans_seq.cli import dna, forecast

    domain, command, args = argv[1], argv[2], argv[3:]
    if command == "predict":
        parser = forecast._parser() if domain == "forecast" else dna._predict_parser()
        parsed = parser.parse_args(args)  # exits (and fails the test) on an unknown or missing flag
        assert parsed.model
        return
    assert command == "fit"
    config = args[args.index("--config") + 1]
    assert (ROOT / config).is_file(), config
    main = forecast.main if domain == "forecast" else dna.main
    with contextlib.chdir(ROOT), contextlib.redirect_stdout(io.StringIO()) as printed:
        try:
            code = main([command, *args, "--print_config"])  # LightningCLI checks every flag, then stops
        except SystemExit as done:
            code = done.code
    assert code in (0, None), printed.getvalue()[-2000:]
    assert "init_args" in printed.getvalue()  # the resolved configuration was printed
