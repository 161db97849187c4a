"""The pypi-index program's parts: settings, rendering functions and components."""
