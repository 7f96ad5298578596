"""The [display] table: declared once, validated, printed by check-config, warned off loopback."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.config import ConfigError, config_warnings, format_config, load_config
from edge.config.addresses import is_loopback, split_listen

BASE = '[site]\nid = "plant-1"\nnode = "n1"\n[database]\npath = "edge.db"\n'


def _load(tmp_path: Path, display: str) -> object:
    path = tmp_path / "edge.toml"
    path.write_text(BASE + "[display]\n" + display)
    return load_config(path)


def test_the_display_is_off_unless_listen_is_set(tmp_path: Path) -> None:
    path = tmp_path / "edge.toml"
    path.write_text(BASE)
    config = load_config(path)
    assert config.display.listen is None
    assert config.display.sound is False
    assert "[display]" in format_config(config)


@pytest.mark.parametrize(
    ("listen", "host", "port"),
    [("127.0.0.1:8080", "127.0.0.1", 8080), ("[::1]:9000", "::1", 9000),
     ("localhost:80", "localhost", 80), ("0.0.0.0:8080", "0.0.0.0", 8080)],
)  # fmt: skip
def test_listen_takes_an_address_of_this_machine_and_a_port(
    tmp_path: Path, listen: str, host: str, port: int
) -> None:
    config = _load(tmp_path, f'listen = "{listen}"\nsound = true\n')
    assert config.display.listen == listen  # type: ignore[attr-defined]
    assert split_listen(listen) == (host, port)
    assert f'listen = "{listen}"' in format_config(config)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("display", "message"),
    [
        ('listen = "8080"', "display.listen: '8080' must be host:port"),
        ('listen = "127.0.0.1:0"', "the port must be between 1 and 65535"),
        ('listen = "127.0.0.1:http"', "must be host:port"),
        ('listen = "line-pc.local:8080"', "give an IP address of this machine"),
        ("max_clients = 0", "display.max_clients: must be between 1 and 1000"),
        ("sound = 1", "display.sound: expected true or false"),
        ('lisen = "127.0.0.1:8080"', "display.lisen: unknown key (did you mean 'listen'?)"),
    ],
)
def test_a_wrong_display_key_is_named(tmp_path: Path, display: str, message: str) -> None:
    with pytest.raises(ConfigError, match="display") as raised:
        _load(tmp_path, display + "\n")
    assert message in str(raised.value)


def test_listening_beyond_loopback_is_warned(tmp_path: Path) -> None:
    assert is_loopback("127.0.0.1")
    assert is_loopback("::1")
    assert not is_loopback("0.0.0.0")
    on_the_line = _load(tmp_path, 'listen = "0.0.0.0:8080"\n')
    [warning] = [w for w in config_warnings(on_the_line) if "display.listen" in w]  # type: ignore[arg-type]
    assert "without a password" in warning
    local = _load(tmp_path, 'listen = "127.0.0.1:8080"\n')
    assert not [w for w in config_warnings(local) if "display.listen" in w]  # type: ignore[arg-type]
