"""Encrypted backups of the whole store, and restores into an empty database.

``write_backup`` streams every table (from ``Base.metadata``) out of one snapshot as
JSON lines into an archive sealed under a fresh per-archive key that the KEK
provider wraps (see :mod:`bastion.backup.archive` for the container and
:mod:`bastion.backup.dump` for the body). ``restore_backup`` loads one into an
empty database at the same schema revision in one transaction, then verifies every
tenant's audit chain, leaving the target restored and verified, or empty.
"""

from bastion.backup._values import UnsupportedColumn
from bastion.backup.archive import (
    ArchiveDamaged,
    ArchiveError,
    ArchiveHeader,
    ArchiveReader,
    ArchiveWriter,
    NotAnArchive,
    UnsupportedArchive,
    open_archive,
)
from bastion.backup.dump import BackupSummary, backup_tables, write_backup
from bastion.backup.restore import (
    ArchiveContentError,
    LoadFailed,
    RestoreError,
    RestoreSummary,
    RevisionMismatch,
    TargetNotEmpty,
    VerificationFailed,
    check_empty,
    restore_backup,
)

__all__ = [
    "ArchiveContentError",
    "ArchiveDamaged",
    "ArchiveError",
    "ArchiveHeader",
    "ArchiveReader",
    "ArchiveWriter",
    "BackupSummary",
    "LoadFailed",
    "NotAnArchive",
    "RestoreError",
    "RestoreSummary",
    "RevisionMismatch",
    "TargetNotEmpty",
    "UnsupportedArchive",
    "UnsupportedColumn",
    "VerificationFailed",
    "backup_tables",
    "check_empty",
    "open_archive",
    "restore_backup",
    "write_backup",
]
