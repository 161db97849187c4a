"""The label every volume of the deployment carries, saying what it holds. The policy pack finds the
package store by it (policy/program_facts.py), whatever the volume is named."""

ROLE_LABEL = "pypi-index.role"

PACKAGES_ROLE = "packages"
"""The package store's role: the one volume no update, replacement or destroy may lose."""
