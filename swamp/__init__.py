"""swamp: a declarative GitOps runner."""

__version__ = "0.1.0"
