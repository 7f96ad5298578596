"""Configuration: one TOML file, read once at start and validated into frozen settings."""

from edge.config.settings import (
    DEFAULT_DATABASE_PATH,
    Config,
    ConfigError,
    DatabaseConfig,
    MqttConfig,
    MqttProtocol,
    ScannerConfig,
    ScannerKind,
    SiteConfig,
    StationConfig,
    StationMode,
    config_warnings,
    format_config,
    load_config,
)

__all__ = [
    "DEFAULT_DATABASE_PATH",
    "Config",
    "ConfigError",
    "DatabaseConfig",
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
