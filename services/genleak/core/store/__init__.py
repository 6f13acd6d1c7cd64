"""Artifact store: immutable, content-hashed artifacts on file:// or s3:// (see artifacts.py)."""

from genleak.core.store.artifacts import ArtifactRef, ArtifactStore
from genleak.core.store.manifest import MANIFEST_NAME, Manifest, ManifestFile
from genleak.core.store.objects import ObjectStore
from genleak.core.store.registry import open_store, register_store

__all__ = [
    "ArtifactRef",
    "ArtifactStore",
    "MANIFEST_NAME",
    "Manifest",
    "ManifestFile",
    "ObjectStore",
    "open_store",
    "register_store",
]
