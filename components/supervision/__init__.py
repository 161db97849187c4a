"""Who keeps the containers running (systemd units) and the gate every deploy must pass."""
