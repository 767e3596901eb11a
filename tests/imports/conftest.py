"""Fixtures for bulk import tests: a real S3 protocol server (moto in server mode on loopback) and
`spruce serve` subprocesses that reach it through the standard AWS variables."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import boto3
import numpy as np
import orjson
import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest
from moto.server import ThreadedMotoServer

from tests.compat.conftest import RunningServer, free_port, stop_server
from tests.compat.conftest import start_server as _start_server

TIMEOUT = 60.0
DIM_DEFAULT = 8


@dataclass
class S3:
    endpoint: str
    bucket: str

    @property
    def env(self) -> dict[str, str]:
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_REGION": "us-east-1",
        }

    def fs(self) -> pafs.S3FileSystem:
        return pafs.S3FileSystem(
            access_key="testing",
            secret_key="testing",
            region="us-east-1",
            endpoint_override=self.endpoint.split("://")[1],
            scheme="http",
        )

    def put_bytes(self, key: str, data: bytes) -> None:
        with self.fs().open_output_stream(f"{self.bucket}/{key}") as out:
            out.write(data)

    def write(self, key: str, table: pa.Table, row_group_size: int = 64) -> None:
        pq.write_table(table, f"{self.bucket}/{key}", filesystem=self.fs(), row_group_size=row_group_size)


@pytest.fixture(scope="session")
def s3() -> Iterator[S3]:
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    )
    client.create_bucket(Bucket="imports")
    try:
        yield S3(endpoint, "imports")
    finally:
        server.stop()


def dense_table(prefix: str, n: int, dim: int, seed: int, sparse: bool = False) -> pa.Table:
    rng = np.random.default_rng(seed)
    vals = rng.standard_normal((n, dim)).astype(np.float32)
    cols: dict[str, pa.Array] = {
        "id": pa.array([f"{prefix}{i}" for i in range(n)]),
        "values": pa.array(list(vals), pa.list_(pa.float32())),
    }
    if sparse:
        cols["sparse_values"] = sparse_column(n, seed)
    cols["metadata"] = pa.array(
        [
            None if i % 5 == 0 else orjson.dumps({"i": i, "tag": f"t{i % 3}", "l": ["a", "b"]}).decode()
            for i in range(n)
        ]
    )
    return pa.table(cols)


def sparse_column(n: int, seed: int) -> pa.Array:
    rng = np.random.default_rng(seed + 1)
    items = []
    for _ in range(n):
        idx = np.sort(rng.choice(10_000, size=4, replace=False)).tolist()
        items.append({"indices": idx, "values": rng.random(4).astype(np.float32).tolist()})
    t = pa.struct([("indices", pa.list_(pa.uint32())), ("values", pa.list_(pa.float32()))])
    return pa.array(items, t)


Server = RunningServer


def start_server(data: Path, env: Mapping[str, str]) -> Server:
    """A `spruce serve` that sees only the given AWS settings, none of this process'."""
    return _start_server(data, env=env, strip=("SPRUCE_", "AWS_"))


class Servers:
    def __init__(self, tmp: Path, s3: S3) -> None:
        self.tmp = tmp
        self.s3 = s3
        self.running: list[Server] = []

    def start(self, name: str, **extra: str) -> Server:
        server = start_server(self.tmp / name, {**self.s3.env, **extra})
        self.running.append(server)
        return server

    def stop(self, server: Server) -> int:
        self.running.remove(server)
        return stop_server(server)

    def kill(self, server: Server) -> None:
        self.running.remove(server)
        server.proc.send_signal(signal.SIGKILL)
        server.proc.wait()


@pytest.fixture
def servers(tmp_path: Path, s3: S3) -> Iterator[Servers]:
    launch = Servers(tmp_path, s3)
    try:
        yield launch
    finally:
        for server in list(launch.running):
            launch.stop(server)


def wait_for(predicate, what: str, timeout: float = TIMEOUT):  # type: ignore[no-untyped-def]
    """Poll `predicate` until it returns a truthy value (generous timeout; no fixed sleeps)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)
