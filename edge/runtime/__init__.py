"""The running product: wiring from config, the daemon, systemd notifications, the clock."""
