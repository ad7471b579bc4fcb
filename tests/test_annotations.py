"""Smart comments (reference §2.3; §7 items 17-19 and 24; §8 item 4)."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fastscore_sdk.errors import FastScoreDeprecationWarning, ModelError
from fastscore_sdk.model.annotations import SlotInfo, parse_annotations


def slots(ann):
    return {s.slot: (s.direction, s.schema, s.recordsets, s.action) for s in ann.slots}


def test_item17_every_tag_parses():
    ann = parse_annotations(
        "# fastscore.schema.0: a\n"
        "#fastscore.recordsets.$in: true\n"
        "   # fastscore.action.2: f\n"
        "# fastscore.slot.3: in-use\n"
        "# fastscore.module-attached: x\n"
        "# fastscore.module-attached: y\n"
        "# fastscore.snapshots: eof\n"
    )
    assert ann.in_use == (0, 1, 2, 3)
    assert slots(ann) == {
        0: ("input", "a", True, "action"),
        1: ("output", None, False, None),
        2: ("input", None, True, "f"),
        3: ("output", None, False, None),
    }
    assert ann.modules_attached == ("x", "y")
    assert ann.snapshots == "eof"
    assert not ann.explicit
    assert [e.line for e in ann.entries] == [1, 2, 3, 4, 5, 6, 7]


def test_default_slots_without_annotations():
    ann = parse_annotations("def action(x):\n    yield x\n")
    assert ann.in_use == (0, 1)
    assert ann.slot(0) == SlotInfo(0, "input", None, False, "action")
    assert ann.slot(1) == SlotInfo(1, "output", None, False, None)
    assert [s.slot for s in ann.inputs] == [0] and [s.slot for s in ann.outputs] == [1]
    with pytest.raises(KeyError):
        ann.slot(2)


def test_item18_deprecated_input_output_are_schema_0_and_1():
    with pytest.warns(FastScoreDeprecationWarning) as record:
        ann = parse_annotations("# fastscore.input: string\n# fastscore.output: string\n")
    assert [str(w.message).split(";")[1].strip() for w in record] == [
        "write '# fastscore.schema.0: string'",
        "write '# fastscore.schema.1: string'",
    ]
    assert slots(ann)[0][1] == "string" and slots(ann)[1][1] == "string"
    assert [e.tag for e in ann.entries] == ["schema", "schema"]


def test_item19_slot_unused_removes_a_default_slot():
    ann = parse_annotations("# fastscore.schema.0: close_price\n# fastscore.slot.1: unused\n")
    assert ann.in_use == (0,)


def test_unused_wins_whatever_the_order():
    ann = parse_annotations(
        "# fastscore.slot.3: unused\n# fastscore.schema.3: x\n# fastscore.slot.5: in-use\n"
    )
    assert ann.in_use == (0, 1, 5)
    assert parse_annotations("# fastscore.schema.3: x\n# fastscore.slot.$out: unused\n").in_use == (0,)
    assert parse_annotations("# fastscore.slot.$in: unused\n").in_use == (1,)


@pytest.mark.parametrize("value, expected", [("true", True), ("YES", True), ("False", False), ("no", False)])
def test_recordsets_values_any_case(value, expected):
    ann = parse_annotations(f"# fastscore.recordsets.0: {value}\n")
    assert ann.slot(0).recordsets is expected
    assert ann.slot(1).recordsets is False


def test_recordsets_unscoped_boolean_means_all():
    ann = parse_annotations("# fastscore.recordsets: yes\n")
    assert ann.slot(0).recordsets and ann.slot(1).recordsets


@pytest.mark.parametrize(
    "value, on",
    [("both", {0, 1}), ("input", {0}), ("output", {1}), ("none", set())],
)
def test_recordsets_deprecated_unscoped_values(value, on):
    with pytest.warns(FastScoreDeprecationWarning, match="deprecated"):
        ann = parse_annotations(f"# fastscore.recordsets: {value}\n")
    assert {s.slot for s in ann.slots if s.recordsets} == on


def test_recordset_singular_is_accepted_with_a_warning():
    with pytest.warns(FastScoreDeprecationWarning, match="recordsets"):
        ann = parse_annotations("# fastscore.recordset.1: true\n")
    assert ann.slot(1).recordsets


def test_scope_precedence_slot_then_in_out_then_all():
    ann = parse_annotations(
        "# fastscore.schema.1: one\n# fastscore.schema.$all: every\n# fastscore.schema.$in: ins\n"
        "# fastscore.slot.2: in-use\n# fastscore.slot.3: in-use\n"
    )
    assert {s.slot: s.schema for s in ann.slots} == {0: "ins", 1: "one", 2: "ins", 3: "every"}
    assert ann.schema_annotation(1).line == 1
    assert ann.schema_annotation(3).line == 2


def test_item24_per_slot_actions():
    ann = parse_annotations("# fastscore.action.0: score\n# fastscore.action.2: other\n")
    assert ann.slot(0).action == "score" and ann.slot(2).action == "other"
    assert ann.in_use == (0, 1, 2)
    assert ann.action_annotation(2).line == 2
    assert ann.action_annotation(0).line == 1


def test_action_default_scope_is_inputs():
    ann = parse_annotations("# fastscore.action: go\n# fastscore.slot.2: in-use\n")
    assert ann.slot(0).action == "go" and ann.slot(2).action == "go"


@pytest.mark.parametrize("value", ["unused", "none", "NONE"])
def test_explicit_model(value):
    ann = parse_annotations(f"# fastscore.action: {value}\n")
    assert ann.explicit
    assert all(s.action is None for s in ann.slots)


def test_duplicates_that_agree_are_fine():
    ann = parse_annotations("# fastscore.schema.0: a\n# fastscore.schema.0: a\n")
    assert ann.slot(0).schema == "a"


def test_smart_comment_in_a_string_is_not_an_annotation():
    source = 'DOC = """\n# fastscore.schema.0: wrong\n"""\n# fastscore.schema.0: right\n'
    assert parse_annotations(source).slot(0).schema == "right"


def test_ordinary_comment_mentioning_fastscore_is_ignored():
    ann = parse_annotations("# fastscore.io gives Slot objects\n# see fastscore.schema docs\n")
    assert ann.entries == ()


def test_trailing_remark_after_the_value():
    assert parse_annotations("# fastscore.schema.0: double  # the price\n").slot(0).schema == "double"


def test_result_is_frozen():
    ann = parse_annotations("")
    with pytest.raises(dataclasses.FrozenInstanceError):
        ann.explicit = True  # type: ignore[misc]


@pytest.mark.parametrize(
    "line, message, fix",
    [
        ("# fastscore.schema.0 double", "no ':'", "fastscore.<tag>"),
        ("# fastscore.shema.0: double", "unknown smart comment tag 'shema'", "did you mean 'schema'"),
        ("# fastscore.schema.0:", "has no value", "after the ':'"),
        ("# fastscore.schema.in: x", "needs a '$'", "schema.$in"),
        ("# fastscore.schema.err: x", "not supported", "slot number"),
        ("# fastscore.schema.: x", "empty scope", "slot number"),
        ("# fastscore.schema.0: two words", "contains spaces", "one schema name"),
        ("# fastscore.recordsets.0: maybe", "not true/false/yes/no", "true, false"),
        ("# fastscore.slot.$all: in-use", "needs a slot number", "slot.<n>: in-use"),
        ("# fastscore.slot.$in: in-use", "needs a slot number", "slot.<n>: in-use"),
        ("# fastscore.slot: in-use", "needs a slot number", "slot.<n>: in-use"),
        ("# fastscore.slot.2: maybe", "not 'in-use' or 'unused'", "in-use or unused"),
        ("# fastscore.action.1: f", "input (even) slots", "even slot"),
        ("# fastscore.action.$out: f", "input (even) slots", "even slot"),
        ("# fastscore.action: 1f", "not a function name", "function name"),
        ("# fastscore.module-attached: not a module", "not a module name", "one module name"),
        ("# fastscore.module-attached.0: x", "takes no slot scope", "module-attached: <value>"),
        ("# fastscore.snapshots: always", "not 'none' or 'eof'", "none or eof"),
    ],
)
def test_malformed_annotation_names_line_and_fix(line, message, fix):
    source = "import math\n\n" + line + "\n"
    with pytest.raises(ModelError) as info:
        parse_annotations(source, model="m")
    err = info.value
    assert err.line == 3
    assert message in str(err)
    assert fix in str(err)
    assert "model 'm', line 3" in str(err)


def test_conflicting_lines_name_both():
    with pytest.raises(ModelError, match=r"conflicts with line 1") as info:
        parse_annotations("# fastscore.schema.0: a\n# fastscore.schema.0: b\n")
    assert info.value.line == 2
    with pytest.raises(ModelError, match="conflicts with line 1"):
        parse_annotations("# fastscore.snapshots: eof\n# fastscore.snapshots: none\n")
    with pytest.warns(FastScoreDeprecationWarning), pytest.raises(ModelError, match="conflicts"):
        parse_annotations("# fastscore.schema.0: a\n# fastscore.input: b\n")


def test_explicit_model_cannot_name_actions():
    with pytest.raises(ModelError, match="explicit model"):
        parse_annotations("# fastscore.action: unused\n# fastscore.action.2: other\n")


def test_non_python_sources_are_scanned_line_by_line():
    ann = parse_annotations("# fastscore.schema.0: double\naction <- function(x) emit(x)\n", mtype="r")
    assert ann.slot(0).schema == "double"


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40))
def test_any_smart_comment_parses_or_raises_model_error(tail):
    try:
        parse_annotations("# fastscore." + tail.replace("\n", " ").replace("\r", " ") + "\n")
    except ModelError as err:
        assert err.line == 1
    except FastScoreDeprecationWarning:
        pass  # pyproject turns the deprecation warning into an error: also a clean outcome
