"""``edge check-config`` and ``edge run`` on hostile config files.

Config files here are arbitrary bytes, TOML built from every key the product reads
(and some it does not) with values of every TOML type and range, and the documented
example config cut short or with a line thrown in. ``edge check-config`` (run in this
process through ``edge.cli.main``) either accepts the file (exit 0, the settings on
stdout, ``ok`` on stderr) or refuses it: exit 2, nothing on stdout, and every line of
the message starting with the file's path. A file it refuses, ``edge run`` refuses at
start with the same message, before touching the database or creating any file.

Two smoke cases run the real ``edge`` process (``python -m edge``) on a broken config
and a broken CSV, to check the same end to end: exit 2, the file named, no traceback,
nothing changed.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from hypothesis import event, example, given
from hypothesis import strategies as st

from tests.e2e.conftest import CONFIG, DB_NAME, make_edge, table_rows
from tests.fuzz.conftest import fuzz_settings
from tests.fuzz.test_csv_imports import run_edge

KEYS = {
    "site": ["id", "node"],
    "database": ["path", "min_free_mb"],
    "mqtt": [
        "host", "port", "protocol", "topic_prefix", "client_id", "keepalive", "username",
        "password_file", "password_env", "password_credential", "tls_ca", "tls_cert", "tls_key",
        "tls_insecure", "max_inflight", "retention_days", "outbox_alarm_rows", "reconnect_max_s",
        "tls",
    ],
    "station": ["id", "mode", "max_qty", "default_reason", "void_window_s", "scrap_reasons"],
    "scanner": [
        "id", "station", "kind", "device", "name", "vendor", "product", "serial", "phys", "layout",
        "suffix", "grab", "url", "baudrate", "bytesize", "parity", "stopbits", "rtscts",
        "xonxoff", "terminator", "feedback_good", "feedback_bad", "prefix", "idle_ms",
        "max_length", "debounce_ms",
    ],
}  # fmt: skip
UNKNOWN_KEYS = ["bogus", "prot", "ID", "Mode", "path ", "id.x", '"quoted key"']
VALUES = [
    '"x"', '""', '"PACK-1"', '"SCRAP-1"', '"ship"', '"scrap"', '"build"', '"shp"', '"evdev"',
    '"serial"', '"us"', '"de"', '"xx(yy)"', '"enter"', '"cr"', '"any"', '"stx-etx"',
    '"/dev/null"', '"/dev/input/by-id/usb-X-event-kbd"', '"loop://"', '"socket://host"',
    '"socket://:1"', '"rfc2217://h:1"', '"edge.db"', '"a/b"', '"#"', '"+"', '"\\u0100"',
    '"\\u0006"', '"\\u0000"', '"\\ud7ff"', '"ü"', "'literal'", '"""two\nlines"""', "0", "1",
    "-1", "5", "8", "65535", "65536", "9223372036854775807", "-9223372036854775808", "0x1F",
    "0o7", "1_000", "1.5", "0.0", "-0.0", "1e400", "nan", "inf", "-inf", "true", "false",
    "[]", '["DAMAGED", "TEST"]', '["DAMAGED", "DAMAGED"]', '[1, "a"]', '[""]', "{ a = 1 }",
    "{}", "1979-05-27", "07:32:00", "1979-05-27T07:32:00Z", '"5"', '"3.1.1"', '"1.5"',
]  # fmt: skip


@st.composite
def built_config(draw: st.DrawFn) -> bytes:
    """TOML of known and unknown tables, keys and values of any type, mostly well-formed."""
    lines = []
    if draw(st.booleans()):
        level = draw(st.sampled_from(['"INFO"', '"debug"', '"LOUD"', "1"]))
        lines.append(f"log_level = {level}")
    tables = draw(
        st.lists(
            st.sampled_from(["site", "database", "mqtt", "station", "station", "scanner", "bogus"]),
            max_size=6,
        )
    )
    for table in tables:
        lines.append(f"[[{table}]]" if table in ("station", "scanner") else f"[{table}]")
        keys = KEYS.get(table, [])
        for _ in range(draw(st.integers(min_value=0, max_value=6))):
            key = draw(
                st.sampled_from(keys + UNKNOWN_KEYS) if keys else st.sampled_from(UNKNOWN_KEYS)
            )
            lines.append(f"{key} = {draw(st.sampled_from(VALUES))}")
    return "\n".join(lines).encode("utf-8")


@st.composite
def damaged_example(draw: st.DrawFn) -> bytes:
    """The working config, cut short, with a line added, or a value replaced."""
    lines = CONFIG.splitlines()
    how = draw(st.sampled_from(["cut", "insert", "replace"]))
    if how == "cut":
        text = CONFIG[: draw(st.integers(min_value=0, max_value=len(CONFIG)))]
    elif how == "insert":
        at = draw(st.integers(min_value=0, max_value=len(lines)))
        table = draw(st.sampled_from(sorted(KEYS)))
        added = (
            f"{draw(st.sampled_from(KEYS[table] + UNKNOWN_KEYS))} = {draw(st.sampled_from(VALUES))}"
        )
        text = "\n".join([*lines[:at], added, *lines[at:]])
    else:
        keyed = [i for i, line in enumerate(lines) if " = " in line]
        at = draw(st.sampled_from(keyed))
        key = lines[at].split(" = ")[0]
        lines[at] = f"{key} = {draw(st.sampled_from(VALUES))}"
        text = "\n".join(lines)
    return text.encode("utf-8")


@contextlib.contextmanager
def folder_with_database(catalog: Path) -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="edge-fuzz-") as name:
        folder = Path(name)
        shutil.copyfile(catalog, folder / DB_NAME)
        yield folder


def _folder_state(folder: Path) -> tuple[list[str], object]:
    return sorted(p.name for p in folder.iterdir()), table_rows(folder / DB_NAME)


@fuzz_settings(weight=0.5)
@example(content=b"[site]\nid = 'a/b'\nnode = 'n'\n[[scanner]]\nid = 's'\n").via("bad topic level")
@example(content=b"\xff\xfe[site]").via("not UTF-8")
@example(content=CONFIG.encode() + b"[[station]]\nid = 'PACK-1'\nmode = 'ship'\n").via("same id")
@given(content=st.one_of(built_config(), damaged_example(), st.binary(max_size=120)))
def test_any_config_file_is_accepted_or_refused_naming_the_file(
    catalog_database: Path, content: bytes
) -> None:
    with folder_with_database(catalog_database) as folder:
        config = folder / "edge.toml"
        config.write_bytes(content)
        before = _folder_state(folder)
        checked = run_edge("check-config", "--config", str(config))
        event(f"check-config exit {checked.code}")
        assert checked.code in (0, 2), checked
        if checked.code == 0:
            assert checked.stdout.strip(), checked
            assert checked.stderr.endswith(f"{config}: ok\n"), checked
            assert _folder_state(folder) == before
            return
        assert checked.stdout == "", checked
        message = checked.stderr.removeprefix("edge check-config: ")
        assert message != checked.stderr, checked
        for line in message.rstrip("\n").split("\n"):
            assert line.startswith(f"{config}: "), f"a problem without the file: {line!r}"

        # The daemon refuses the same file at start, with the same message, touching nothing.
        started = run_edge("run", "--config", str(config))
        assert started.code == 2, started
        assert started.stdout == ""
        assert started.stderr == "edge run: " + message
        assert _folder_state(folder) == before


# --- the real process -------------------------------------------------------------------


def test_edge_process_refuses_a_broken_config_at_check_and_at_start(tmp_path: Path) -> None:
    broken = (
        CONFIG
        + '\n[[scanner]]\nid = "s1"\nstation = "NOWHERE"\nkind = "serial"\n'
        + ('url = "loop://"\nfeedback_good = "\\u0100"\nbogus = nan\n')
    )
    floor = make_edge(tmp_path / "floor", broken)
    for command in ("check-config", "run"):
        result = floor(command)  # asserts that no traceback was printed
        assert result.returncode == 2, result
        assert result.stdout == ""
        assert f"{floor.config}: scanner[1].feedback_good:" in result.stderr
        assert f"{floor.config}: scanner[1].bogus: unknown key" in result.stderr
    assert not floor.database.exists()


def test_edge_process_refuses_a_csv_with_nul_bytes_and_bad_utf8(
    tmp_path: Path, catalog_database: Path
) -> None:
    floor = make_edge(tmp_path / "floor")
    shutil.copyfile(catalog_database, floor.database)
    before = floor.snapshot()
    floor.write("items.csv", b"part,description\nNEW-1,ok\nNEW-2,\x00\xff\xfe\nNEW-3,x\n")
    result = floor("import", "items", "items.csv")
    assert result.returncode == 2, result
    assert "items.csv:3" in result.stderr
    assert "UTF-8" in result.stderr
    assert floor.snapshot() == before
