"""The systemd service: the daemon loop, sd_notify, signals."""
