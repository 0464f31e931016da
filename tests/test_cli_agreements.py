"""``hub agreements check|show``, in-process and as the console script a user runs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner, Result

from cli.main import app
from hub.agreements.keys import generate_key
from tests.agreement_cases import gd_doc, write

HUB = str(Path(sys.executable).with_name("hub"))


def _hub(args: list[str], tmp_path: Path, **env: str) -> Result:
    """The ``hub`` CLI in-process, with no HUB_* variable but ``env`` and no ``.env`` file."""
    clean: dict[str, str | None] = {k: None for k in os.environ if k.upper().startswith("HUB_")}
    clean.update(env)
    return CliRunner().invoke(app, ["--env-file", str(tmp_path / "absent.env"), *args], env=clean)


def test_cli_check_passes_on_the_shipped_agreements(tmp_path: Path) -> None:
    # As a user runs it: the console script, registered in cli.main.
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("HUB_")}
    proc = subprocess.run(
        [HUB, "agreements", "check"], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert "5 agreement(s)" in proc.stdout and "HUB_AGREEMENT_KEY_GD_EXCHANGE" in proc.stdout


def test_cli_check_fails_on_a_broken_directory(tmp_path: Path) -> None:
    broken = tmp_path / "agreements"
    broken.mkdir()
    doc = gd_doc()
    doc["events"]["VisitMade"]["keep"].append("visit_notes")
    write(broken, doc)
    by_option = _hub(["agreements", "check", "--dir", str(broken)], tmp_path)
    by_setting = _hub(["agreements", "check"], tmp_path, HUB_AGREEMENTS_DIR=str(broken))
    for result in (by_option, by_setting):
        assert result.exit_code == 1, result.stdout
        assert "gd.yaml: event VisitMade: field visit_notes" in " ".join(result.stderr.split())


def test_cli_check_lists_fields_dropped_by_default_and_checks_keys(tmp_path: Path) -> None:
    folder = tmp_path / "agreements"
    folder.mkdir()
    doc = gd_doc()
    doc["events"]["VisitMade"]["drop"].remove("notes")
    write(folder, doc)
    result = _hub(["agreements", "check", "--dir", str(folder)], tmp_path)
    assert result.exit_code == 0, result.stderr
    assert "VisitMade: dropped by default (no rule): notes" in result.stdout
    result = _hub(["agreements", "check", "--dir", str(folder), "--keys"], tmp_path)
    assert result.exit_code == 1 and "HUB_AGREEMENT_KEY_GD_EXCHANGE" in result.stderr
    key = {"HUB_AGREEMENT_KEY_GD_EXCHANGE": generate_key()}
    result = _hub(["agreements", "check", "--dir", str(folder), "--keys"], tmp_path, **key)
    assert result.exit_code == 0, result.stderr


def test_cli_show_prints_the_rules(tmp_path: Path) -> None:
    result = _hub(["agreements", "show", "hk"], tmp_path)
    assert result.exit_code == 0, result.stderr
    assert "hk-exchange v1" in result.stdout and "zones gba" in result.stdout
    rows = [line for line in result.stdout.splitlines() if "client_birth" in line]
    assert rows and "generalise" in rows[0] and "age_band" in rows[0]
    result = _hub(["agreements", "show", "TW"], tmp_path)
    assert result.exit_code == 1 and "no agreement for region" in result.stderr
