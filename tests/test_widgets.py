"""Widgets: the stream-descriptor builder's output, the live engine monitor, and their text fallbacks."""

from __future__ import annotations

import io
import json

import pytest

import fastscore_sdk as fs
from fastscore_sdk.library import Library
from fastscore_sdk.notebook._testing import TestingShell
from fastscore_sdk.notebook.widgets import EngineMonitor, StreamBuilder, in_notebook


@pytest.fixture
def ip():
    shell = TestingShell.preconfigured_shell()
    yield shell
    shell.clean()


# ------------------------------------------------------------------------------------ builder without widgets


@pytest.mark.parametrize(
    ("kwargs", "transport"),
    [
        ({"transport": "file", "fields": {"Path": "in.jsons"}}, {"Type": "file", "Path": "in.jsons"}),
        (
            {
                "transport": "kafka",
                "fields": {
                    "BootstrapServers": "127.0.0.1:9092",
                    "Topic": "t",
                    "Partition": "2",
                    "CommitOffset": "false",
                },
            },
            {
                "Type": "Kafka",
                "BootstrapServers": "127.0.0.1:9092",
                "Topic": "t",
                "Partition": 2,
                "CommitOffset": False,
            },
        ),
        ({"transport": "rest"}, {"Type": "REST"}),
        (
            {"transport": "inline", "fields": {"Data": '{"x": 1}\n\n{"x": 2}\n'}},
            {"Type": "inline", "Data": ['{"x": 1}', '{"x": 2}']},
        ),
        (
            {"transport": "exec", "fields": {"Run": "/bin/sh", "Args": "-c 'echo 1'"}},
            {"Type": "exec", "Run": "/bin/sh", "Args": ["-c", "echo 1"]},
        ),
        (
            {"transport": "tcp", "fields": {"Host": "127.0.0.1", "Port": "9000"}},
            {"Type": "TCP", "Host": "127.0.0.1", "Port": 9000},
        ),
    ],
)
def test_builder_descriptors_verify(kwargs, transport):
    b = StreamBuilder("s", **kwargs)
    desc = b.descriptor()
    assert desc["Transport"] == transport
    assert b.problems() == []
    assert fs.Stream("s", desc).verify()["transport"]["type"] == transport["Type"].lower()
    assert b.stream().desc == desc


def test_builder_envelope_encoding_and_schema():
    b = StreamBuilder(
        "9 lives",
        transport="file",
        fields={"Path": "in.csv"},
        envelope="delimited-csv",
        separator="\\r\\n",
        encoding="csv",
        schema_fields=[("a", "double"), ("b", "string?"), ("", "int")],
        loop=False,
    )
    desc = b.descriptor()
    assert desc["Loop"] is False
    assert desc["Envelope"] == {"Type": "delimited-csv", "Separator": "\r\n"}
    assert desc["Schema"] == {
        "type": "record",
        "name": "_9_lives",
        "fields": [
            {"name": "a", "type": "double"},
            {"name": "b", "type": ["null", "string"], "default": None},
        ],
    }
    assert b.problems() == []
    fixed = StreamBuilder("f", fields={"Path": "x.bin"}, envelope="fixed", size="8", encoding="(none)")
    assert fixed.descriptor()["Envelope"] == {"Type": "fixed", "Size": 8}
    assert fixed.descriptor()["Encoding"] is None
    assert (
        StreamBuilder("n", transport="kafka", fields={"Topic": "t"}, envelope="(none)").descriptor()[
            "Envelope"
        ]
        is None
    )
    assert StreamBuilder("r", fields={"Path": "x"}, schema_ref="iris").descriptor()["Schema"] == {
        "$ref": "iris"
    }


def test_builder_reports_problems():
    b = StreamBuilder("s", transport="file")
    assert any("Transport.Path" in p for p in b.problems())
    with pytest.raises(fs.DescriptorError):
        b.stream()
    assert "# problems:" in repr(b)
    assert "Problems" in b.preview_html()
    bad_port = StreamBuilder("s", transport="tcp", fields={"Host": "h", "Port": "eighty"})
    assert bad_port.descriptor()["Transport"]["Port"] == "eighty"
    assert any("Port" in p for p in bad_port.problems())


def test_builder_cell_is_a_valid_stream_cell(ip):
    b = StreamBuilder("built-in", transport="inline", fields={"Data": "1\n2\n3"})
    text = b.cell()
    assert text.startswith("%%stream built-in\n")
    s = ip.run_cell(text).result
    assert s.desc == b.descriptor()
    assert s.sample().records == [1, 2, 3]
    assert Library.default().streams["built-in"].desc == b.descriptor()


# ------------------------------------------------------------------------------------ the form


def test_form_drives_the_descriptor():
    b = StreamBuilder("form", transport="file")
    c = b.controls
    seen = []
    b.on_change(lambda builder: seen.append(builder.kind))
    assert "field:Path" in c
    c["field:Path"].value = "in.jsons"
    assert b.descriptor()["Transport"] == {"Type": "file", "Path": "in.jsons"}
    assert "The descriptor verifies" in c["preview"].value
    c["transport"].value = "Kafka"
    assert "field:Path" not in c and "field:BootstrapServers" in c
    assert set(w.description for w in c["fields_box"].children) >= {"BootstrapServers", "Topic"}
    c["field:BootstrapServers"].value = "127.0.0.1:9092"
    c["field:Topic"].value = "ticks"
    c["schema_fields"].value = "price: double\nticker: string?\n"
    c["name"].value = "ticks"
    desc = b.descriptor()
    assert desc["Transport"] == {"Type": "Kafka", "BootstrapServers": "127.0.0.1:9092", "Topic": "ticks"}
    assert [f["name"] for f in desc["Schema"]["fields"]] == ["price", "ticker"]
    assert b.problems() == [] and b.name == "ticks"
    c["envelope"].value = "delimited"  # not allowed on Kafka
    assert c["separator"].layout.display == ""
    assert "FS-D002" in c["preview"].value
    c["envelope"].value = "fixed"
    assert c["separator"].layout.display == "none" and c["size"].layout.display == ""
    c["envelope"].value = "(default)"
    assert "The descriptor verifies" in c["preview"].value
    assert seen and seen[-1] == "Kafka"


def test_form_buttons_insert_and_save(ip):
    b = StreamBuilder("saved", transport="inline", fields={"Data": "1\n2"})
    c = b.controls
    c["insert"].click()
    assert ip.rl_next_input == b.cell()
    c["save"].click()
    assert Library.default().streams["saved"].desc == b.descriptor()
    assert "saved stream" in c["status"].value
    c["field:Data"].value = ""
    c["save"].click()
    assert "Transport" in c["status"].value and "saved stream" not in c["status"].value


def test_headless_display_is_text(ip, capsys):
    assert not in_notebook()
    b = StreamBuilder("txt", transport="rest")
    from IPython.display import display

    display(b)
    out = capsys.readouterr().out
    assert out.startswith("%%stream txt") and '"Type": "REST"' in out


# ------------------------------------------------------------------------------------ engine monitor


def test_monitor_text_view_writes_a_line_per_change():
    eng = fs.Engine(echo_console=False)
    model = fs.Model("slowish", "import time\ndef action(x):\n    time.sleep(0.05)\n    yield x\n")
    out = fs.Stream("out", {"Transport": "discard", "Encoding": "json"})
    buf = io.StringIO()
    monitor = EngineMonitor(eng, interval=0.02)
    try:
        eng.run(model, "inline:1,2,3,4", out)
        monitor.watch(widget=False, file=buf).wait(30)
        lines = buf.getvalue().splitlines()
        assert any(line.startswith("engine-1: RUNNING") for line in lines)
        assert "engine-1: FINISHED, in 4, out 4, rejected 0" in lines
        assert "Engine 'engine-1': FINISHED, model 'slowish'" in lines  # the full table at the end
        assert monitor.done and repr(monitor).startswith("Engine 'engine-1'")
        assert "FINISHED" in monitor._repr_html_()
    finally:
        eng.reset()


def test_monitor_widget_refreshes_until_the_end():
    eng = fs.Engine(echo_console=False)
    out = fs.Stream("out", {"Transport": "discard", "Encoding": "json"})
    monitor = EngineMonitor(eng, interval=0.02)
    try:
        eng.run(fs.Model("m", "def action(x):\n    yield x\n"), "inline:1,2", out)
        monitor.watch(widget=True).wait(30)
        assert "FINISHED" in monitor.widget.value and "<table" in monitor.widget.value
    finally:
        eng.reset()


def test_monitor_shows_the_last_error_and_can_stop():
    eng = fs.Engine(echo_console=False)
    monitor = EngineMonitor(eng, interval=0.02)
    try:
        eng.run(fs.Model("bad", "def action(x):\n    yield 1 / 0\n"), "inline:1", "discard:")
        monitor.watch(widget=False, file=None).wait(30)
        assert "error: model 'bad'" in monitor.summary() and "ZeroDivisionError" in monitor.summary()
    finally:
        eng.reset()
    looping = fs.Stream("loop", {"Transport": {"Type": "inline", "Data": ["1"]}, "Loop": True})
    with pytest.warns(UserWarning, match="will not end"):
        eng.run(
            fs.Model("id", "def action(x):\n    yield x\n"),
            looping,
            fs.Stream("o", {"Transport": "discard", "Encoding": "json"}),
        )
    try:
        monitor.watch(widget=False, file=None)
        monitor.stop()
        assert not monitor.done
    finally:
        eng.reset()


def test_builder_output_round_trips_as_json():
    b = StreamBuilder("j", transport="file", fields={"Path": "a.jsons"}, schema_fields=[("x", "long")])
    body = b.cell().split("\n", 1)[1]
    assert json.loads(body) == b.descriptor()
