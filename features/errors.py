"""One error hierarchy for every layer of Butler.

Messages say what is wrong and how to fix it, in scikit-learn's style.
"""

from __future__ import annotations

from sklearn.exceptions import NotFittedError as _SklearnNotFittedError


class ButlerError(Exception):
    """Base class of every error Butler raises on purpose."""


class UnreadableFileError(ButlerError):
    """A file cannot be read at all: wrong encoding, truncated, empty, unknown format."""


class UnknownPlatformError(ButlerError):
    """The platform of an export file cannot be detected, or the given name is unknown."""


class ContractViolation(ButlerError):
    """A file or frame breaks its column contract (missing columns, wrong kind of export)."""


class StoreError(ButlerError):
    """The unified store is missing, locked or at an unexpected schema version."""


class UnknownEntityError(ButlerError):
    """A SKU, warehouse, member or other entity asked for is not in the store."""


class InvalidParameterError(ButlerError, ValueError):
    """A function was called with a value it cannot use: a bad period, a negative threshold."""


class NotFittedError(ButlerError, _SklearnNotFittedError):
    """A model was used before ``fit``."""
