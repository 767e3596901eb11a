"""Where import files come from (and export files go): pyarrow's filesystems behind one URI parser.

`s3://bucket/prefix`, `gs://bucket/prefix`, `az://container/prefix`, `file:///dir` and plain paths.
pyarrow's S3 client was chosen over boto3 and fsspec/s3fs: it is already a dependency, reads Parquet
row groups with ranged GETs in C++ threads without the GIL, and `benchmarks/import.py` measures it
against boto3 (whole-object GET, then parse) on the same moto server.

Credentials: the usual AWS variables (pyarrow reads AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
AWS_SESSION_TOKEN, AWS_REGION and ~/.aws like the AWS SDK does), or a named storage integration from the
server's configuration chosen by `integrationId`. S3-compatible stores: the integration's endpoint,
else the configured `s3_endpoint`, else AWS_ENDPOINT_URL_S3, else AWS_ENDPOINT_URL.
"""

from __future__ import annotations

import contextlib
import os
import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from spruce.config import ImportConfig, StorageIntegration
from spruce.errors import InvalidArgumentError

DEFAULT_NAMESPACE_DIR = "__default__"
READ_BATCH_ROWS = 4096  # 4096 x 768 float32 = 12.6 MB a batch
READ_BUFFER_BYTES = 1 << 20
READ_AHEAD = 2


@dataclass(frozen=True, slots=True)
class SourceFile:
    path: str  # inside the filesystem
    size: int


@dataclass(slots=True)
class Layout:
    """Namespaces found under an import URI: name ("" = default) -> its Parquet files, sorted."""

    namespaces: dict[str, list[SourceFile]] = field(default_factory=dict)


def integration(config: ImportConfig, integration_id: str | None) -> StorageIntegration | None:
    if integration_id is None:
        return None
    for item in config.integrations:
        if item.id == integration_id:
            return item
    known = ", ".join(i.id for i in config.integrations) or "none are configured"
    raise InvalidArgumentError(f"unknown integrationId {integration_id!r} (known: {known})")


def _s3(config: ImportConfig, cred: StorageIntegration | None) -> pafs.FileSystem:
    endpoint = (
        (cred.endpoint_url if cred else None)
        or config.s3_endpoint
        or os.environ.get("AWS_ENDPOINT_URL_S3")
        or os.environ.get("AWS_ENDPOINT_URL")
    )
    kwargs: dict[str, object] = {}
    if cred is not None and cred.access_key_id:
        kwargs.update(access_key=cred.access_key_id, secret_key=cred.secret_access_key or "")
        if cred.session_token:
            kwargs["session_token"] = cred.session_token
    region = (
        (cred.region if cred else None)
        or os.environ.get("AWS_REGION")
        or os.environ.get("AWS_DEFAULT_REGION")
    )
    if endpoint:
        parts = urlsplit(endpoint if "://" in endpoint else f"https://{endpoint}")
        kwargs.update(endpoint_override=parts.netloc, scheme=parts.scheme or "https")
        region = region or "us-east-1"  # S3-compatible stores rarely care; skips a region lookup
    if region:
        kwargs["region"] = region
    return pafs.S3FileSystem(**kwargs)


def open_uri(
    uri: object, config: ImportConfig, integration_id: str | None = None
) -> tuple[pafs.FileSystem, str]:
    """(filesystem, base path inside it) for an import or export URI."""
    if not isinstance(uri, str) or not uri.strip():
        raise InvalidArgumentError("uri must be a non-empty string such as s3://bucket/prefix/")
    cred = integration(config, integration_id)
    parts = urlsplit(uri)
    scheme = parts.scheme.lower()
    if scheme == "s3":
        if not parts.netloc:
            raise InvalidArgumentError(f"uri {uri!r} names no bucket (s3://bucket/prefix/)")
        return _s3(config, cred), f"{parts.netloc}{parts.path}".rstrip("/")
    if scheme == "gs":
        if not hasattr(pafs, "GcsFileSystem"):
            raise InvalidArgumentError("gs:// imports need pyarrow built with GCS support")
        return pafs.GcsFileSystem(), f"{parts.netloc}{parts.path}".rstrip("/")
    blob_host = scheme == "https" and (parts.hostname or "").endswith(".blob.core.windows.net")
    if scheme in ("az", "abfs", "abfss") or blob_host:
        account = os.environ.get("AZURE_STORAGE_ACCOUNT_NAME") or os.environ.get("AZURE_STORAGE_ACCOUNT")
        if blob_host:  # Pinecone's form: https://<account>.blob.core.windows.net/<container>/<prefix>
            account = (parts.hostname or "").split(".")[0]
            parts = urlsplit(f"az://{parts.path.lstrip('/')}")
        if not hasattr(pafs, "AzureFileSystem"):
            raise InvalidArgumentError("az:// imports need pyarrow built with Azure support")
        if not account:
            raise InvalidArgumentError("az:// imports need AZURE_STORAGE_ACCOUNT_NAME (and a key or login)")
        key = os.environ.get("AZURE_STORAGE_ACCOUNT_KEY")
        fs = (
            pafs.AzureFileSystem(account_name=account, account_key=key)
            if key
            else pafs.AzureFileSystem(account)
        )
        container = parts.netloc.split("@")[0]
        return fs, f"{container}{parts.path}".rstrip("/")
    if scheme == "file":
        return pafs.LocalFileSystem(), os.path.abspath(parts.path).rstrip("/") or "/"
    if scheme == "":
        return pafs.LocalFileSystem(), os.path.abspath(uri).rstrip("/") or "/"
    raise InvalidArgumentError(
        f"uri scheme {scheme!r} is not supported; use s3://, gs://, az://, file:// or a local path"
    )


def discover(fs: pafs.FileSystem, base: str, uri: str) -> Layout:
    """Every `.parquet` file under `<base>/<namespace>/` (recursively); other files are ignored."""
    try:
        info = fs.get_file_info(base)
        if info.type == pafs.FileType.NotFound and not isinstance(fs, pafs.S3FileSystem):
            raise InvalidArgumentError(f"uri {uri!r}: no such directory")
        entries = fs.get_file_info(pafs.FileSelector(base, recursive=True, allow_not_found=True))
    except OSError as exc:
        raise InvalidArgumentError(f"cannot list {uri!r}: {exc}") from None
    layout = Layout()
    prefix = base.rstrip("/") + "/"
    for entry in entries:
        if entry.type != pafs.FileType.File or not entry.path.endswith(".parquet"):
            continue
        rel = entry.path[len(prefix) :] if entry.path.startswith(prefix) else entry.path
        parts = rel.split("/")
        if len(parts) < 2 or any(p.startswith((".", "_")) and p != DEFAULT_NAMESPACE_DIR for p in parts[1:]):
            continue  # a file directly under the URI, or hidden / _temporary output
        ns = "" if parts[0] == DEFAULT_NAMESPACE_DIR else parts[0]
        layout.namespaces.setdefault(ns, []).append(SourceFile(entry.path, entry.size or 0))
    for files in layout.namespaces.values():
        files.sort(key=lambda f: f.path)
    return layout


def _open_parquet(fs: Any, path: str) -> tuple[Any, dict[str, Any]]:
    """The file's source and how to read it."""
    if isinstance(fs, pafs.LocalFileSystem):
        # Local files: streamed through a small buffer. Whole column chunks read ahead (pre_buffer)
        # cost twice the CPU here (each row group copied into fresh buffers) and a memory map counts
        # the whole file in the process' RSS.
        return pa.OSFile(path), {"pre_buffer": False, "buffer_size": READ_BUFFER_BYTES}
    # Object stores: each row group's column chunks fetched by coalesced ranged GETs, ahead of decoding.
    return fs.open_input_file(path), {"pre_buffer": True}


def read_batches(fs: Any, paths: list[str], check: Any) -> Iterator[tuple[int, pa.RecordBatch | None]]:
    """(file number, batch) for every record batch of the files in order, and (file number, None)
    after each file's last. One thread reads ahead across files (decoding releases the GIL), at most
    READ_AHEAD batches ahead of the consumer, so memory stays bounded by a few batches."""
    done = object()
    out: queue.Queue[Any] = queue.Queue(maxsize=READ_AHEAD)
    stop = threading.Event()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                out.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for number, path in enumerate(paths):
                source, options = _open_parquet(fs, path)
                with source:
                    parquet = pq.ParquetFile(source, **options)
                    for batch in parquet.iter_batches(batch_size=READ_BATCH_ROWS, use_threads=False):
                        if not put((number, batch)):
                            return
                if not put((number, None)):
                    return
        except BaseException as exc:
            put(exc)
            return
        put(done)

    thread = threading.Thread(target=produce, name="spruce-import-read", daemon=True)
    thread.start()
    try:
        while True:
            check()
            item = out.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while thread.is_alive():
            with contextlib.suppress(queue.Empty):
                out.get(timeout=0.1)
        thread.join()


def display_path(uri: str, base: str, path: str) -> str:
    """A file's name as the user wrote the URI (s3://bucket/prefix/ns/part.parquet)."""
    rel = path[len(base) :].lstrip("/") if path.startswith(base) else path
    return uri.rstrip("/") + "/" + rel
