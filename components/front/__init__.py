"""The front server (Caddy): TLS, cached authentication, static pages and files."""
