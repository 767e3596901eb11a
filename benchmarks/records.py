"""Records benchmark: text upsert and text search through `spruce serve`, against the model called directly.

    python benchmarks/records.py [--n 10000] [--queries 200] [--model all-MiniLM-L6-v2] [--busy-n 2000]

Phases, one at a time unless said otherwise:
  1. direct: this process embeds the N passages with the model registry (96 per call, 4 threads), which
     is the ceiling for phase 2;
  2. server: the pinecone 10.2.0 SDK's upsert_records of the same N passages, 96 per request, 4 requests
     at once. Target: throughput >= 0.8x phase 1 (the server batches texts across requests);
  3. search by text, one at a time: end to end, and split into embed and search time by the server
     (its Server-Timing header); `/embed` of one query and records search by vector for comparison.
     Target: the search adds <= 2 ms to the embed;
  4. vector queries (top 10, 1 client) on another index, idle and while phase 2's upsert runs again into
     a fresh namespace (--busy-n passages). Target: p99 within 2x of idle.
The machine is shared and loaded while this runs: read the figures as indications, the ratios as the result.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
from pinecone import Pinecone, ServerlessSpec

sys.path.insert(0, str(Path(__file__).resolve().parent))
from server import Server, percentiles

from spruce.service.inference import get_registry

BATCH = 96
CONCURRENCY = 4
FIELD = "chunk_text"
WORDS = (  # noqa: SIM905
    "apple river mountain engine garden market winter doctor music planet window bread coffee city "
    "forest ocean history energy school travel camera summer language bridge castle desert island "
    "science health finance football library kitchen village rocket museum harbor festival"
).split()


def passages(n: int, seed: int = 1) -> list[str]:
    rng = random.Random(seed)
    return [f"Passage {i}: " + " ".join(rng.choices(WORDS, k=rng.randint(10, 18))) + "." for i in range(n)]


def batches(texts: list[str], start: int = 0) -> list[list[dict[str, str]]]:
    records = [{"_id": f"p{start + i}", FIELD: t} for i, t in enumerate(texts)]
    return [records[i : i + BATCH] for i in range(0, len(records), BATCH)]


def direct(model: str, texts: list[str]) -> float:
    reg = get_registry()
    reg.embed(model, texts[:BATCH], input_type="passage")  # load the model outside the timing
    chunks = [texts[i : i + BATCH] for i in range(0, len(texts), BATCH)]
    start = time.perf_counter()
    with ThreadPoolExecutor(CONCURRENCY) as pool:
        list(pool.map(lambda c: reg.embed(model, c, input_type="passage"), chunks))
    return time.perf_counter() - start


def upsert_all(index: object, namespace: str, work: list[list[dict[str, str]]]) -> float:
    start = time.perf_counter()
    with ThreadPoolExecutor(CONCURRENCY) as pool:
        list(pool.map(lambda b: index.upsert_records(namespace=namespace, records=b), work))  # type: ignore[attr-defined]
    return time.perf_counter() - start


def timed(fn: Callable[[int], object], n: int) -> list[float]:
    out = []
    for i in range(n):
        t0 = time.perf_counter()
        fn(i)
        out.append(time.perf_counter() - t0)
    return out


def ms(pair: tuple[float, float]) -> str:
    return f"p50 {pair[0]:7.2f} ms   p99 {pair[1]:7.2f} ms"  # percentiles() gives milliseconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--model", default="all-MiniLM-L6-v2")
    parser.add_argument("--busy-n", type=int, default=2_000, help="passages upserted during phase 4")
    args = parser.parse_args()
    texts = passages(args.n)
    work = batches(texts)

    t_direct = direct(args.model, texts)
    print(f"direct model call : {args.n} passages in {t_direct:6.2f} s = {args.n / t_direct:7.0f} texts/s")

    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        data.mkdir()
        server = Server(data)
        try:
            with Pinecone(api_key="k", host=server.url) as pc:
                pc.create_index_for_model(
                    name="text", cloud="aws", region="us-east-1",
                    embed={"model": args.model, "field_map": {"text": FIELD}},
                )  # fmt: skip
                index = pc.Index(name="text")
                index.upsert_records(namespace="warm", records=work[0])  # the server loads the model
                t_up = upsert_all(index, "bench", work)
                print(
                    f"upsert_records    : {args.n} passages in {t_up:6.2f} s = {args.n / t_up:7.0f} texts/s"
                    f"   ratio to direct {t_direct / t_up:.2f} (target >= 0.8)"
                )

                queries = [f"{random.Random(i).choice(WORDS)} and {WORDS[i % len(WORDS)]}" for i in range(50)]
                embed_url = f"{server.url}/embed"
                body = {"model": args.model, "parameters": {"input_type": "query"}}
                with httpx.Client() as http:
                    vec = http.post(embed_url, json={**body, "inputs": [{"text": queries[0]}]}).json()
                    qv = vec["data"][0]["values"]
                    search_url = f"{pc.describe_index('text').host}/records/namespaces/bench/search"
                    n = args.queries
                    stages: dict[str, list[float]] = {"embed": [], "search": []}

                    def text_search(i: int) -> None:
                        r = http.post(
                            search_url, json={"query": {"inputs": {"text": queries[i % 50]}, "top_k": 10}}
                        )
                        r.raise_for_status()
                        for part in r.headers["server-timing"].split(","):
                            stage, _, dur = part.strip().partition(";dur=")
                            stages[stage].append(float(dur) / 1e3)

                    text_lat = timed(text_search, n)
                    embed_lat = timed(
                        lambda i: http.post(
                            embed_url, json={**body, "inputs": [{"text": queries[i % 50]}]}
                        ).raise_for_status(),
                        n,
                    )
                    vec_lat = timed(
                        lambda i: http.post(
                            search_url, json={"query": {"vector": {"values": qv}, "top_k": 10}}
                        ).raise_for_status(),
                        n,
                    )
                t_text, t_embed, t_vec = percentiles(text_lat), percentiles(embed_lat), percentiles(vec_lat)
                s_embed, s_search = percentiles(stages["embed"]), percentiles(stages["search"])
                print(f"search by text    : {ms(t_text)}   (end to end, one client)")
                print(f"  server: embed   : {ms(s_embed)}")
                print(f"  server: search  : {ms(s_search)}   (target: <= 2 ms on top of the embed)")
                print(f"  text - embed    : p50 {t_text[0] - s_embed[0]:+.2f} ms (HTTP, JSON and search)")
                print(f"  /embed alone    : {ms(t_embed)}   (end to end, for comparison)")
                print(f"  vector search   : {ms(t_vec)}   (records search by vector, end to end)")

                dim = len(qv)
                pc.create_index(
                    name="vec",
                    dimension=dim,
                    metric="cosine",
                    spec=ServerlessSpec(cloud="aws", region="us-east-1"),
                )
                vindex = pc.Index(name="vec")
                rng = np.random.default_rng(3)
                mat = rng.normal(size=(10_000, dim)).astype(np.float32)
                for s in range(0, len(mat), 500):
                    vindex.upsert(vectors=[(f"v{s + j}", mat[s + j].tolist()) for j in range(500)])
                probes = rng.normal(size=(args.queries, dim)).tolist()
                idle = percentiles(timed(lambda i: vindex.query(vector=probes[i], top_k=10), args.queries))
                done = threading.Event()
                busy_lat: list[float] = []

                def writer() -> None:
                    upsert_all(index, "bench2", batches(passages(args.busy_n, seed=2), start=args.n))
                    done.set()

                thread = threading.Thread(target=writer)
                thread.start()
                i = 0
                while not done.is_set():
                    t0 = time.perf_counter()
                    vindex.query(vector=probes[i % len(probes)], top_k=10)
                    busy_lat.append(time.perf_counter() - t0)
                    i += 1
                thread.join()
                busy = percentiles(busy_lat)
                print(f"vector query idle : {ms(idle)}")
                print(
                    f"  during upsert   : {ms(busy)}   ({len(busy_lat)} queries)   p99 ratio "
                    f"{busy[1] / idle[1]:.2f} (target <= 2)"
                )
        finally:
            server.stop()


if __name__ == "__main__":
    main()
