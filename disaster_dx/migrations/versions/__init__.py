"""Schema revisions, one file each: ``0001_release_0_1`` → ``0002_…`` (docs/architecture.md)."""
