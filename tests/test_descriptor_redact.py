"""Redaction of descriptors, the Library's plaintext check, and errors that never show a secret."""

from __future__ import annotations

import copy
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fastscore_sdk.descriptor import (
    REDACTED,
    check,
    has_plaintext_secrets,
    has_redacted_values,
    interpret,
    redact,
)
from fastscore_sdk.errors import DescriptorError
from fastscore_sdk.secrets import Secret

S3 = {
    "Transport": {
        "Type": "S3",
        "Bucket": "b",
        "ObjectKey": "k",
        "AccessKeyID": "AKIAIOSFODNN7EXAMPLE",
        "SecretAccessKey": "wJalrXUtnFEMI/K7MDENG/bPxRfiCY",
    },
    "Encoding": "json",
}
SECRETS = ("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCY")


def test_redact_replaces_every_secret_field_and_never_mutates():
    desc = {
        "Transport": {
            "Type": "HDFS",
            "NameNode": "nn:9000",
            "Path": "/x",
            "Authentication": {"Type": "Kerberos", "Principal": "me", "Password": "hdfs-pw"},
            "session_token": "tok",
            "ClientSecret": "cs",
            "Keytab": "/etc/k.keytab",
            "access_key_id": "AKIA",
            "AdminPassword": "ap",
        },
        "Rotate": {"MaxSize": "5k"},
    }
    before = copy.deepcopy(desc)
    shown = redact(desc)
    assert desc == before
    t = shown["Transport"]
    assert t["Authentication"] == {"Type": "Kerberos", "Principal": "me", "Password": REDACTED}
    for key in ("session_token", "ClientSecret", "Keytab", "access_key_id", "AdminPassword"):
        assert t[key] == REDACTED
    assert t["NameNode"] == "nn:9000" and shown["Rotate"] == {"MaxSize": "5k"}
    shown["Transport"]["Authentication"]["Principal"] = "changed"
    assert desc["Transport"]["Authentication"]["Principal"] == "me"


def test_redact_connection_strings_and_keeps_references():
    desc = {
        "Transport": {
            "Type": "ODBC",
            "ConnectionString": "Driver=MySQL;Server=db;PWD=x;",
            "SelectQuery": "SELECT 1",
        }
    }
    assert redact(desc)["Transport"]["ConnectionString"] == "Driver=MySQL;Server=db;PWD=*****;"
    ref = {"Transport": {"Type": "S3", "SecretAccessKey": "secret://SecretAccessKey", "AccessKeyID": None}}
    assert redact(ref) == ref


def test_has_plaintext_secrets_and_redacted_values():
    assert has_plaintext_secrets(S3) == ["Transport.AccessKeyID", "Transport.SecretAccessKey"]
    odbc = {"Transport": {"Type": "ODBC", "ConnectionString": "DSN=x;Password=root"}}
    assert has_plaintext_secrets(odbc) == ["Transport.ConnectionString"]
    safe = {
        "Transport": {
            "Type": "S3",
            "AccessKeyID": "secret://AccessKeyID",
            "SecretAccessKey": "secret://SecretAccessKey",
        }
    }
    assert has_plaintext_secrets(safe) == []
    assert (
        has_plaintext_secrets({"Transport": {"Type": "ODBC", "ConnectionString": "DSN=x;PWD=secret://P"}})
        == []
    )
    assert has_redacted_values(redact(S3)) == ["Transport.AccessKeyID", "Transport.SecretAccessKey"]
    assert has_redacted_values(redact(odbc)) == ["Transport.ConnectionString"]
    assert has_redacted_values(S3) == []


def test_the_interpreted_form_hides_secrets_and_reveal_returns_safe_strings():
    shown = interpret(S3)
    text = json.dumps(shown)
    for secret in SECRETS:
        assert secret not in text
    assert shown["transport"]["secret_access_key"] == REDACTED
    revealed = interpret(S3, reveal_secrets=True)["transport"]
    assert revealed["secret_access_key"] == SECRETS[1]
    assert isinstance(revealed["secret_access_key"], Secret)
    for secret in SECRETS:
        assert secret not in repr(revealed)
    assert S3["Transport"]["SecretAccessKey"] == SECRETS[1]


def test_reveal_resolves_references(tmp_path, monkeypatch):
    monkeypatch.setenv("FASTSCORE_SECRETS_DIR", str(tmp_path))
    (tmp_path / "DB_PWD").write_text("pa55word\n")
    desc = {
        "Transport": {"Type": "ODBC", "ConnectionString": "Driver=MySQL;Server=db;PWD=secret://DB_PWD"},
        "Encoding": None,
    }
    assert interpret(desc)["transport"]["connection_string"] == "Driver=MySQL;Server=db;PWD=secret://DB_PWD"
    revealed = interpret(desc, reveal_secrets=True)["transport"]["connection_string"]
    assert revealed == "Driver=MySQL;Server=db;PWD=pa55word"
    assert "pa55word" not in repr(revealed)


def test_missing_secrets_are_problems_of_verify(tmp_path, monkeypatch):
    monkeypatch.setenv("FASTSCORE_SECRETS_DIR", str(tmp_path))
    monkeypatch.delenv("SecretAccessKey", raising=False)
    desc = {
        "Transport": {
            "Type": "S3",
            "Bucket": "b",
            "ObjectKey": "k",
            "SecretAccessKey": "secret://SecretAccessKey",
        }
    }
    problems = check(desc, check_secrets=True)
    assert [(p.code, p.field) for p in problems] == [("FS-S001", "Transport.SecretAccessKey")]
    with pytest.raises(DescriptorError) as info:
        interpret(desc, check_secrets=True)
    assert info.value.code == "FS-S001"
    # The display form does not need the secrets; revealing them does.
    assert check(desc) == []
    assert interpret(desc)["transport"]["secret_access_key"] == REDACTED
    with pytest.raises(DescriptorError):
        interpret(desc, reveal_secrets=True)


def _assert_hidden(err: DescriptorError, values) -> None:
    texts = [str(err), repr(err), *(str(p) for p in err.problems), *(repr(p) for p in err.problems)]
    for text in texts:
        for value in values:
            assert value not in text, text


@pytest.mark.parametrize(
    "desc",
    [
        {**S3, "Loop": "yes"},
        {**S3, "Transport": {**S3["Transport"], "Bucket": "wJalrXUtnFEMI/K7MDENG/bPxRfiCY", "ObjectKey": 5}},
        {"Transport": {"Type": "S3", "Bucket": "b", "ObjectKey": "k", "SecretAccessKey": 12345678901}},
        {
            "Transport": {
                "Type": "S3",
                "Bucket": "b",
                "ObjectKey": "k",
                "AccessKeyID": ["AKIAIOSFODNN7EXAMPLE"],
            }
        },
        {"Transport": {"Type": "ODBC", "ConnectionString": ["DSN=x;PWD=wJalrXUtnFEMI/K7MDENG/bPxRfiCY"]}},
        {
            "Transport": {"Type": "ODBC", "ConnectionString": "DSN=x;PWD=AKIAIOSFODNN7EXAMPLE"},
            "Encoding": "json",
        },
        {"Transport": {"Type": "HTTP", "Url": "https://u:AKIAIOSFODNN7EXAMPLE@h/x", "Chunked": "no"}},
        {
            "Transport": {
                "Type": "HDFS",
                "NameNode": "nn",
                "Path": "/x",
                "Authentication": {"Password": 12345678901},
            }
        },
        {
            "Transport": {"Type": "pigeon", "Password": "AKIAIOSFODNN7EXAMPLE"},
            "Token": "wJalrXUtnFEMI/K7MDENG/bPxRfiCY",
        },
    ],
)
def test_errors_never_show_a_secret(desc):
    with pytest.raises(DescriptorError) as info:
        interpret(desc)
    _assert_hidden(info.value, (*SECRETS, "12345678901"))


@settings(max_examples=200, deadline=None)
@given(
    key=st.sampled_from(
        ["SecretAccessKey", "AccessKeyID", "Password", "ApiToken", "client_secret", "Keytab"]
    ),
    # A marker prefix keeps a drawn secret from being a word the messages use anyway.
    secret=st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEF0123456789/+=", min_size=6, max_size=30).map(
        lambda s: "zQ" + s
    ),
    breakage=st.sampled_from(
        [
            {"Loop": "yes"},
            {"Envelope": "zip"},
            {"Encoding": 5},
            {"Batching": {"Watermark": -1}},
            {"Schema": 3},
            {"Transport": None},
        ]
    ),
    kind=st.sampled_from(["S3", "Kafka", "pigeon", "HDFS", "file"]),
)
def test_no_secret_reaches_an_error_message(key, secret, breakage, kind):
    desc = {"Transport": {"Type": kind, key: secret, "Bucket": secret}, "Encoding": "json"}
    desc.update(breakage)
    if desc["Transport"] is None:
        desc["Password"] = secret
    try:
        interpret(desc, slot=1)
    except DescriptorError as err:
        _assert_hidden(err, [secret])
