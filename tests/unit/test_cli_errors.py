"""User errors end the same way in every verb: ``marlinflow <verb>: error: <file>: <reason>`` on
stderr, exit status 2, no traceback."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from marlinflow.cli import main
from marlinflow.stages import StageRecord


def one_error_line(capsys, verb: str, needle: str) -> None:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    line = next(line for line in err.splitlines() if line.startswith(f"marlinflow {verb}: error:"))
    assert needle in line, line


def test_contact_sheet_of_a_track_record(tmp_path, capsys):
    record = tmp_path / "a.status.json"
    StageRecord("a", "track", True, "", {"video": "a.mp4", "track": "a.json"}).save(record)
    assert main(["contact-sheet", str(record), str(tmp_path / "a.png")]) == 2
    one_error_line(capsys, "contact-sheet", f"{record}: a track record; a contact sheet needs")


@pytest.mark.parametrize("verb", ["track", "download"])
def test_an_output_that_is_not_a_stage_record(verb, tmp_path, capsys):
    args = [verb, str(tmp_path / "in.mp4"), str(tmp_path / "out.json")]
    if verb == "download":
        args = [verb, str(tmp_path / "out.json"), "--source", str(tmp_path / "in.mp4")]
    assert main(args) == 2
    one_error_line(capsys, verb, "out.json: a stage record's name ends in .status.json")


def test_extract_with_an_unknown_model_name(tmp_path, capsys):
    args = ["extract", str(tmp_path / "a.mp4"), "--model", "nosuch", "--out", str(tmp_path)]
    assert main(args) == 2
    one_error_line(capsys, "extract", "no released weights of this name")


def test_import_of_a_file_with_code_in_it(tmp_path, capsys):
    class Runs:  # unpickling it would call os.getcwd
        def __reduce__(self):
            import os

            return (os.getcwd, ())

    torch.save({"state_dict": Runs()}, tmp_path / "evil.pt")
    assert main(["import-encoder", str(tmp_path / "evil.pt"), "--out", str(tmp_path / "e.pt")]) == 2
    err = capsys.readouterr().err
    assert "holds Python objects besides tensors" in err
    assert "weights_only` set to `False`" not in err  # torch's advice to turn the check off


def test_top_level_help_is_plain_text():
    shown = subprocess.run(
        [sys.executable, "-m", "marlinflow.cli", "--help"], capture_output=True, text=True
    ).stdout
    assert "parse" in shown and "``" not in shown and ":class:" not in shown


def test_check_config_names_the_file_and_line_of_a_yaml_mistake(tmp_path, capsys):
    good, bad = tmp_path / "good.yaml", tmp_path / "bad.yaml"
    good.write_text("pretrain: {epochs: 3}\n")
    bad.write_text("pretrain:\n  epochs: [1\n")
    assert main(["check-config", "--no-base", str(good), str(bad)]) == 2
    one_error_line(capsys, "check-config", f"{bad}: not a readable YAML config")
    assert main(["check-config", "--no-base", str(good)]) == 0
    assert "valid" in capsys.readouterr().out


def test_check_config_refuses_what_the_workflow_would(tmp_path, capsys):
    odd = tmp_path / "odd.yaml"
    odd.write_text("track: {size: 225}\n")
    assert main(["check-config", "--no-base", str(odd)]) == 2
    assert "track.size: 225 is not a multiple of 2" in capsys.readouterr().err


def test_summary_of_a_missing_record(tmp_path, capsys):
    missing = tmp_path / "gone.status.json"
    assert main(["summary", str(missing), "--out", str(tmp_path / "s.tsv")]) == 2
    one_error_line(capsys, "summary", f"{missing}: not a readable stage record")


def test_report_of_a_missing_plan_starts_no_run(tmp_path, capsys):
    out = tmp_path / "report" / "index.html"
    assert main(["report", str(tmp_path / "plan.json"), "--out", str(out)]) == 2
    one_error_line(capsys, "report", "plan.json: experiment plan not found")
    assert not (tmp_path / "report").exists()  # no run record, no W&B folder
