"""Writes the indexer's readers never see half of, and listings of folders that may not exist yet.
Standard library only: it runs inside the pypiserver image with the indexer (static_index.py)."""

from __future__ import annotations

import hashlib
import os


def write_bytes(path: str, data: bytes) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    staged = f"{path}.{os.getpid()}.tmp"
    with open(staged, "wb") as out:
        out.write(data)
    os.replace(staged, path)  # readers see the old page or the new one, never half of one


def write_text(path: str, text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


def names(folder: str) -> list[str]:
    try:
        return os.listdir(folder)
    except FileNotFoundError:
        return []


def subfolders(folder: str) -> list[str]:
    try:
        with os.scandir(folder) as entries:
            return [entry.name for entry in entries if entry.is_dir()]  # the listing's file types: no stat each
    except FileNotFoundError:
        return []


def sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as source:
        for chunk in iter(lambda: source.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
