"""pypiserver: its container, arguments, credentials file, canary and the programs it runs."""
