"""Each rule's code version covers what its DVC stage depends on: when DVC runs a stage because
its code changed, the rule's jobs see their code version change too."""

from __future__ import annotations

import re

import yaml

from marlinflow.code_version import PACKAGE, RULE_CODE, code_version

# The DVC stage whose outs a rule's results land in.
STAGE_OF = {
    "make_sample": "sample",
    "write_manifest": "manifest",
    "download_video": "download",
    "track_video": "faces",
    "parse_video": "parsing",
    "contact_sheet": "parsing",
    "audio_video": "audio",
    "build_task": "tasks",
    "pretrain": "encoders",
    "random_encoder": "encoders",
    "import_encoder": "encoders",
    "extract_features": "evaluation",
    "probe": "evaluation",
    "finetune": "evaluation",
    "lipsync_expert": "lipsync",
    "lipsync_generator": "lipsync",
    "lipsync_eval": "lipsync",
    "report_html": "report",
}


def test_every_rule_code_path_is_among_its_stage_deps(repo_root):
    stages = yaml.safe_load((repo_root / "dvc.yaml").read_text())["stages"]
    assert set(STAGE_OF) == set(RULE_CODE)
    for rule, parts in RULE_CODE.items():
        stage = stages[STAGE_OF[rule]]
        deps = (stage.get("do") or stage)["deps"]
        for part in parts:
            assert (PACKAGE / part).exists(), (rule, part)
            path = f"src/marlinflow/{part}"
            assert any(path == dep or path.startswith(f"{dep}/") for dep in deps), (rule, path)


def test_every_rule_carries_its_code_version(repo_root):
    text = "\n".join(p.read_text() for p in sorted((repo_root / "workflow/rules").glob("*.smk")))
    carried = set(re.findall(r'code=code_version\("(\w+)"\)', text))
    assert carried == set(RULE_CODE)
    defined = set(re.findall(r"^rule (\w+):", text, re.MULTILINE))
    assert set(RULE_CODE) <= defined


def test_the_version_follows_the_files(tmp_path, monkeypatch):
    monkeypatch.setattr("marlinflow.code_version.PACKAGE", tmp_path)
    monkeypatch.setitem(RULE_CODE, "demo", ("pkg", "mod.py"))
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg/a.py").write_text("x = 1\n")
    (tmp_path / "mod.py").write_text("y = 2\n")
    before = code_version.__wrapped__("demo")
    (tmp_path / "pkg/a.py").write_text("x = 2\n")
    assert code_version.__wrapped__("demo") != before
    (tmp_path / "pkg/a.py").write_text("x = 1\n")
    assert code_version.__wrapped__("demo") == before
