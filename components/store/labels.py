"""The label every volume of the deployment carries, saying what it holds. The policy pack finds the
package store by it (policy/program_facts.py), whatever the volume is named."""

ROLE_LABEL = "pypi-index.role"

PACKAGES_ROLE = "packages"
"""The package store's role: the one volume no update, replacement or destroy may lose."""

FRONT_DATA_ROLE = "front-data"
"""The front server's certificates and CA: kept like the packages, and backed up with them."""
