"""Where the index runs: the connection (Docker provider, shell steps), the host's checks and bootstrap."""
