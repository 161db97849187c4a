"""Benchmarks of the deployed index, run from the repository root as modules, e.g.
`venv/bin/python -m bench.serving`.

They reuse the test helpers: the program under mocks (tests/support/recorded.py), the real engine
(tests/support/engine.py), the image builders (tests/host/), the client helpers
(tests/support/index_client.py), imported by their full names from the repository root, as the tests
import them.
"""
