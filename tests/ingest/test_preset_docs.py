"""docs/presets.md lists every native field of every kind, and every registered preset."""

import re

from retainly.ingest.presets import PRESETS
from retainly.ingest.presets.native import FIELDS
from tests.conftest import ROOT

DOC = (ROOT / "docs" / "presets.md").read_text()


def test_native_fields_documented():
    native = DOC.split("## retainly (native)", 1)[1].split("## Mapping files", 1)[0]
    documented = {}
    for block in re.split(r"^### ", native, flags=re.M)[1:]:
        kind, _, body = block.partition("\n")
        documented[kind.strip()] = [m.group(1) for m in re.finditer(r"^\| (\w+) \|", body, flags=re.M)
                                    if m.group(1) != "column"]
    assert documented == {kind: [f.name for f in fields] for kind, fields in FIELDS.items()}


def test_every_preset_has_a_section():
    for name in PRESETS:
        heading = "## retainly (native)" if name == "retainly" else f"## {name}"
        assert heading in DOC, f"docs/presets.md has no section for preset {name}"
