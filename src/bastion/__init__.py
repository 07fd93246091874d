"""Bastion: a security gateway for enterprise AI.

Importing this package has no side effects. The public surface is deliberately
small; everything else lives in subpackages with their own ``__all__``.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
