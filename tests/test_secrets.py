"""secret://NAME resolution, secret fields, redaction helpers and scrubbing."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from fastscore_sdk import secrets
from fastscore_sdk.errors import DescriptorError
from fastscore_sdk.secrets import (
    REDACTED,
    Secret,
    check_references,
    is_reference,
    is_secret_key,
    plaintext_secret_paths,
    redact,
    redact_connection_string,
    redact_url,
    references,
    resolve,
    resolve_tree,
    scrub,
    secret_values,
)


@pytest.fixture
def secret_dir(tmp_path, monkeypatch):
    folder = tmp_path / "run-secrets"
    folder.mkdir()
    monkeypatch.setenv("FASTSCORE_SECRETS_DIR", str(folder))
    return folder


def test_default_folder_is_run_secrets(monkeypatch):
    monkeypatch.delenv("FASTSCORE_SECRETS_DIR", raising=False)
    assert secrets.secrets_dir() == Path("/run/secrets")


def test_resolve_reads_the_file_and_strips_one_newline(secret_dir):
    (secret_dir / "AccessKeyID").write_text("AKIAEXAMPLE\n")
    (secret_dir / "Two").write_text("line\n\n")
    (secret_dir / "Windows").write_bytes(b"pw\r\n")
    (secret_dir / "Bare").write_text("bare")
    assert resolve("secret://AccessKeyID") == "AKIAEXAMPLE"
    assert resolve("secret://Two") == "line\n"
    assert resolve("secret://Windows") == "pw"
    assert resolve("secret://Bare") == "bare"
    assert isinstance(resolve("secret://Bare"), Secret)


def test_the_file_wins_over_the_environment(secret_dir, monkeypatch):
    monkeypatch.setenv("DB_PWD", "from-env")
    assert resolve("secret://DB_PWD") == "from-env"
    (secret_dir / "DB_PWD").write_text("from-file\n")
    assert resolve("secret://DB_PWD") == "from-file"


def test_a_missing_secret_names_itself_and_how_to_provide_it(secret_dir):
    with pytest.raises(DescriptorError) as info:
        resolve("secret://SecretAccessKey", field="Transport.SecretAccessKey")
    err = info.value
    assert err.code == "FS-S001"
    assert err.field == "Transport.SecretAccessKey"
    text = str(err)
    assert "SecretAccessKey" in text
    assert str(secret_dir / "SecretAccessKey") in text
    assert "environment variable SecretAccessKey" in text
    assert "FASTSCORE_SECRETS_DIR" in text


@pytest.mark.parametrize("ref", ["secret://../etc/passwd", "secret://a/b", "secret://", "secret://.hidden"])
def test_invalid_names_never_leave_the_folder(secret_dir, ref):
    with pytest.raises(DescriptorError) as info:
        resolve(ref)
    assert info.value.code == "FS-S002"


def test_an_unreadable_secret_file(secret_dir):
    (secret_dir / "Binary").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(DescriptorError) as info:
        resolve("secret://Binary")
    assert info.value.code == "FS-S003"
    assert "\\xff" not in str(info.value)


def test_references_inside_a_string(secret_dir, monkeypatch):
    monkeypatch.setenv("DB_USER", "scorer")
    (secret_dir / "DB_PWD").write_text("p@ss;word\n")
    value = "Driver=MySQL;Server=db;UID=secret://DB_USER;PWD=secret://DB_PWD"
    assert references(value) == ["DB_USER", "DB_PWD"]
    resolved = resolve(value)
    assert resolved == "Driver=MySQL;Server=db;UID=scorer;PWD=p@ss;word"
    assert repr(resolved) == repr(REDACTED)


def test_non_references_come_back_unchanged(secret_dir):
    assert resolve("plain text") == "plain text"
    assert not isinstance(resolve("plain text"), Secret)
    assert not is_reference(42) and not is_reference("secret:/x") and is_reference("x secret://A")


def test_resolve_tree_copies_resolves_and_reports_every_missing_name(secret_dir, monkeypatch):
    monkeypatch.setenv("TOKEN", "tok-123")
    tree = {"a": ["secret://TOKEN", {"b": "secret://TOKEN"}], "c": 1, "d": None}
    before = copy.deepcopy(tree)
    found: set[str] = set()
    out = resolve_tree(tree, found=found)
    assert out == {"a": ["tok-123", {"b": "tok-123"}], "c": 1, "d": None}
    assert tree == before
    assert found == {"tok-123"}
    with pytest.raises(DescriptorError) as info:
        resolve_tree({"x": "secret://NOPE_1", "y": ["secret://NOPE_2"]}, prefix="Transport")
    assert [(p.code, p.field) for p in info.value.problems] == [
        ("FS-S001", "Transport.x"),
        ("FS-S001", "Transport.y[0]"),
    ]
    assert (
        check_references({"x": "secret://NOPE_1", "z": "secret://TOKEN"}, "Transport")[0].field
        == "Transport.x"
    )


def test_secret_repr_hides_the_value():
    s = Secret("hunter22")
    assert s == "hunter22" and str(s) == "hunter22" and f"{s}" == "hunter22"
    assert "hunter22" not in repr(s) and "hunter22" not in repr({"k": [s]})


@pytest.mark.parametrize(
    ("key", "secret"),
    [
        ("AccessKeyID", True),
        ("access_key_id", True),
        ("SecretAccessKey", True),
        ("secret_access_key", True),
        ("Password", True),
        ("password", True),
        ("Keytab", True),
        ("ClientSecret", True),
        ("client_secret", True),
        ("SessionToken", True),
        ("token", True),
        ("DbPassword", True),
        ("PWD", True),
        ("ApiKey", True),
        ("Bucket", False),
        ("ObjectKey", False),
        ("TokenUrl", False),
        ("Principal", False),
        ("ConnectionString", False),
        (3, False),
    ],
)
def test_secret_keys(key, secret):
    assert is_secret_key(key) is secret


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("Driver=MySQL;Server=db;PWD=x;", "Driver=MySQL;Server=db;PWD=*****;"),
        (
            "Driver=MySQL;Server=database;Port=3306;Database=fastscore;User=root;Password=root",
            "Driver=MySQL;Server=database;Port=3306;Database=fastscore;User=root;Password=*****",
        ),
        ("pwd = abc ; uid=me", "pwd = *****; uid=me"),
        ("Driver={ODBC};PWD={a;b}}c};Server=s", "Driver={ODBC};PWD=*****;Server=s"),
        ("PWD=secret://DB_PWD;Server=s", "PWD=secret://DB_PWD;Server=s"),
        ("PWD=;Server=s", "PWD=;Server=s"),
        ("Server=s;Database=PWD", "Server=s;Database=PWD"),
    ],
)
def test_redact_connection_string(text, shown):
    assert redact_connection_string(text) == shown


def test_redact_url():
    assert redact_url("https://me:pa55@h/x") == "https://me:*****@h/x"
    assert redact_url("https://h/x?a=b@c") == "https://h/x?a=b@c"
    assert redact_url("https://me:secret://PW@h/x") == "https://me:secret://PW@h/x"


def test_redact_tree_and_plaintext_paths():
    tree = {
        "Transport": {
            "Type": "HDFS",
            "Authentication": {"Type": "Kerberos", "Password": "k-pass"},
            "Token": "secret://TOKEN",
            "ConnectionString": "Server=s;PWD=pw1",
            "Url": "http://u:pw2@h/x",
        }
    }
    before = copy.deepcopy(tree)
    shown = redact(tree)
    assert tree == before
    assert shown["Transport"]["Authentication"]["Password"] == REDACTED
    assert shown["Transport"]["Token"] == "secret://TOKEN"
    assert shown["Transport"]["ConnectionString"] == "Server=s;PWD=*****"
    assert shown["Transport"]["Url"] == "http://u:*****@h/x"
    assert redact(tree, mask_references=True)["Transport"]["Token"] == REDACTED
    assert plaintext_secret_paths(tree) == [
        "Transport.Authentication.Password",
        "Transport.ConnectionString",
        "Transport.Url",
    ]
    assert sorted(secret_values(tree)) == ["k-pass", "pw1", "pw2"]


def test_scrub():
    text = "cannot log in as me with 'hunter22' (hunter22)"
    assert scrub(text, ["hunter22", None, "ab"]) == "cannot log in as me with '*****' (*****)"
    assert scrub("a\\nb", ["a\nb"]) == "*****"
    assert scrub("nothing", []) == "nothing"
