"""Every campaign default says where it comes from; docs/defaults.md and `render --explain` use that one table."""

from __future__ import annotations

from pathlib import Path

from harness.campaign import parse_campaign
from harness.origins import CHOICE, ORIGINS, PAPER, campaign_sections, defaults_markdown, explain, missing_origins
from harness_testlib import harness, write_campaign

REPO = Path(__file__).resolve().parents[2]


def test_every_campaign_field_has_an_origin():
    assert missing_origins() == []
    for section, fields in ORIGINS.items():
        for name, origin in fields.items():
            assert origin.kind in (PAPER, CHOICE), f"{section}.{name}"
            assert origin.note.strip(), f"{section}.{name}"
            if origin.kind == PAPER:   # a quoted sentence
                assert origin.note.startswith("\u201c"), f"{section}.{name}"


def test_docs_table_is_generated():
    assert (REPO / "docs" / "defaults.md").read_text() == defaults_markdown()
    for section, cls in campaign_sections().items():
        for name in cls.model_fields:
            assert f"`[{section}].{name}`" in defaults_markdown()


def test_explain_marks_what_the_campaign_set(tmp_path):
    campaign = parse_campaign('[campaign]\npotentials = ["toy-morse"]\n[robustness]\nduration_ps = 5.0\n',
                              tmp_path / "c.toml")
    lines = {line.split()[0]: line for line in explain(campaign).splitlines()}
    assert "campaign file" in lines["[robustness].duration_ps"] and " 5.0 " in lines["[robustness].duration_ps"]
    assert "default" in lines["[robustness].natoms"] and "paper:" in lines["[robustness].natoms"]
    assert "harness choice:" in lines["[robustness].barostat_damping_fs"]
    assert "[conductivity].duration_ps" not in lines   # only the tasks the campaign runs


def test_render_explain_cli_writes_nothing(tmp_path):
    campaign = write_campaign(tmp_path, '[campaign]\npotentials = ["toy-morse"]\n[melt_quench]\n')
    done = harness("render", str(campaign), "--explain", "--out", str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr
    assert "[melt_quench].heating_rate_K_per_ps" in done.stdout and "harness choice" in done.stdout
    assert not (tmp_path / "out").exists()
