"""Configuration: one TOML file, read once at start and validated into frozen dataclasses.

Each key is declared once, as a field of a settings dataclass
(:mod:`edge.config.settings`) whose schema (:mod:`edge.config.schema`) gives it a
value type that parses and checks it (:mod:`edge.config.values`); a key left out
of the file takes the field's default. Everything wrong with a file is collected
and raised as one :class:`ConfigError` with one line per problem, each naming the
file and the key::

    edge.toml: station[2].mode: 'shp' is not one of ship, scrap, build (did you mean 'ship'?)
    edge.toml: mqtt.prot: unknown key (did you mean 'protocol'?)

Arrays of tables are counted from 1, as a reader counts the ``[[station]]``
blocks in the file.

Loading (:mod:`edge.config.loader`) reads the config file and nothing else; the
checks that look at this machine and the printing of the effective config are in
:mod:`edge.config.report`.
"""

from edge.config.loader import load_config
from edge.config.problems import ConfigError
from edge.config.report import config_warnings, format_config
from edge.config.settings import (
    DEFAULT_DATABASE_PATH,
    CommandsConfig,
    Config,
    DatabaseConfig,
    DisplayConfig,
    InventoryConfig,
    MqttConfig,
    MqttProtocol,
    ScannerConfig,
    ScannerKind,
    SiteConfig,
    StationConfig,
    StationMode,
)

__all__ = [
    "DEFAULT_DATABASE_PATH",
    "CommandsConfig",
    "Config",
    "ConfigError",
    "DatabaseConfig",
    "DisplayConfig",
    "InventoryConfig",
    "MqttConfig",
    "MqttProtocol",
    "ScannerConfig",
    "ScannerKind",
    "SiteConfig",
    "StationConfig",
    "StationMode",
    "config_warnings",
    "format_config",
    "load_config",
]
