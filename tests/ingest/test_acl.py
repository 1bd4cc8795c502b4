"""Access rules: which users and groups each ingested file is written with."""

from __future__ import annotations

from pathlib import Path

import pytest

from es_rag.ingest.acl import AclRulesError, acl_rules, load_acl_rules
from es_rag.ingest.discover import SourceFile


def file(source: str) -> SourceFile:
    return SourceFile(path=Path("/docs") / source, source=source, doc_id=source, size=1,
                      mtime=0.0, mime_type="text/plain")


def test_the_first_matching_rule_decides() -> None:
    rules = acl_rules({"hr/**": ["group:hr"], "*.pdf": ["group:staff", "alice"],
                       "**": "group:everyone"})
    assert rules(file("hr/salaries.pdf")) == ["group:hr"]
    assert rules(file("reports/q3.pdf")) == ["group:staff", "alice"]
    assert rules(file("guide.md")) == ["group:everyone"]
    assert acl_rules({"hr/**": "group:hr"})(file("guide.md")) is None


def test_rules_are_read_from_json_and_yaml_files(tmp_path: Path) -> None:
    (tmp_path / "acl.json").write_text('{"*.md": ["docs-team"]}')
    (tmp_path / "acl.yaml").write_text("'*.md': docs-team\n'**': [everyone]\n")
    assert load_acl_rules(tmp_path / "acl.json")(file("a.md")) == ["docs-team"]
    yaml_rules = load_acl_rules(tmp_path / "acl.yaml")
    assert yaml_rules(file("a.md")) == ["docs-team"] and yaml_rules(file("b.txt")) == ["everyone"]


def test_bad_rules_are_refused_with_the_file_and_rule_named(tmp_path: Path) -> None:
    broken = tmp_path / "acl.json"
    broken.write_text('{"*.md": ["docs-team"],}')
    with pytest.raises(AclRulesError, match=r"acl.json: not valid JSON: .* line 1"):
        load_acl_rules(broken)
    wrong = tmp_path / "wrong.json"
    wrong.write_text('{"*.md": [42]}')
    with pytest.raises(AclRulesError, match=r"wrong.json: rule '\*.md' must map a glob"):
        load_acl_rules(wrong)
    with pytest.raises(AclRulesError, match="cannot read the access rules"):
        load_acl_rules(tmp_path / "missing.json")
