"""One error tree for all of Spruce, in domain words; no HTTP or gRPC codes here.

    SpruceError
    ├── NotFoundError
    │   ├── IndexNotFoundError
    │   ├── NamespaceNotFoundError
    │   ├── CollectionNotFoundError (also a ValueError)
    │   ├── RecordNotFoundError     (collection update of ids that do not exist; also a ValueError)
    │   └── ModelNotFoundError
    ├── AlreadyExistsError
    │   ├── CollectionAlreadyExistsError (also a ValueError)
    │   └── IDAlreadyExistsError    (collection add of an existing id; also a ValueError)
    ├── InvalidArgumentError        (also a ValueError, as Chroma and pyseekdb users expect)
    │   ├── DimensionMismatchError
    │   ├── InvalidFilterError
    │   ├── UnsupportedMediaTypeError  (a request body that is not JSON by its Content-Type)
    │   └── DuplicateIDError        (one id twice in one collection call)
    ├── ForbiddenError              (deletion protection)
    ├── UnauthenticatedError
    ├── PayloadTooLargeError
    ├── ResourceExhaustedError
    │   └── DiskFullError           (ENOSPC / EDQUOT: the write was not acknowledged)
    ├── ClosedError                 (using a closed client or store)
    ├── ModelUnavailableError       (a model's files are not installed)
    └── CorruptionError
        ├── WalCorruptionError
        ├── SegmentCorruptionError
        ├── BackupCorruptionError   (a damaged backup: the request cannot be served, not our bug)
        └── IndexFailedError        (an index that could not be opened; the others serve)

The servers translate these to HTTP / gRPC / Pinecone codes in one table (`spruce.wire.errors`).
Anything that is not a `SpruceError` is our own bug and becomes a 500 / INTERNAL.
"""

from __future__ import annotations


class SpruceError(Exception):
    """Base of every error Spruce raises on purpose."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFoundError(SpruceError):
    pass


class IndexNotFoundError(NotFoundError):
    pass


class NamespaceNotFoundError(NotFoundError):
    pass


class AlreadyExistsError(SpruceError):
    pass


class InvalidArgumentError(SpruceError, ValueError):
    pass


class DimensionMismatchError(InvalidArgumentError):
    pass


class InvalidFilterError(InvalidArgumentError):
    pass


class ForbiddenError(SpruceError):
    pass


class UnauthenticatedError(SpruceError):
    pass


class PayloadTooLargeError(SpruceError):
    pass


class ResourceExhaustedError(SpruceError):
    pass


class ClosedError(SpruceError):
    pass


class CorruptionError(SpruceError):
    pass


class WalCorruptionError(CorruptionError):
    def __init__(self, message: str, path: str = "", offset: int = -1) -> None:
        super().__init__(message)
        self.path = path
        self.offset = offset
        # The recovery.Damage entries found, when a WAL scan raised this (the engine's type).
        self.damage: list[object] = []


class SegmentCorruptionError(CorruptionError):
    pass


class DuplicateIDError(InvalidArgumentError):
    pass


class CollectionNotFoundError(NotFoundError, ValueError):
    pass


class RecordNotFoundError(NotFoundError, ValueError):
    pass


class CollectionAlreadyExistsError(AlreadyExistsError, ValueError):
    pass


class IDAlreadyExistsError(AlreadyExistsError, ValueError):
    pass


class ModelNotFoundError(NotFoundError):
    """No inference model has this name."""


class ModelUnavailableError(SpruceError):
    """A model's files are missing or unreadable on this machine (an installation problem)."""


class BackupCorruptionError(CorruptionError):
    pass


class UnsupportedMediaTypeError(InvalidArgumentError):
    pass


class DiskFullError(ResourceExhaustedError):
    pass


class IndexFailedError(CorruptionError):
    """The index could not be opened (damaged files): it answers with this until repaired."""
