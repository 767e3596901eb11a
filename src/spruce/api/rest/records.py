"""Records routes of one index: text upsert (NDJSON) and search, embedded by the index's model.

Model calls take tens of ms of CPU, so both routes run off the event loop, in the inference routes' own
pool: requests queued behind the model hold none of the threads (or the in-flight count) that vector
queries use, so queries on other indexes keep their latency while text is being embedded.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from spruce.api.rest.http import JSON, NDJSON, json_response, read_body, read_json
from spruce.api.rest.inference import run_in_inference_pool
from spruce.api.rest.routes import RouteSpec
from spruce.config import ServerConfig
from spruce.service.catalog import Catalog
from spruce.service.records import RecordsService
from spruce.wire import records_json, rest


class RecordsRoutes:
    def __init__(self, catalog: Catalog, index_name: str, config: ServerConfig) -> None:
        self.catalog = catalog
        self.index_name = index_name
        self.limit = config.max_body_bytes

    def routes(self) -> list[RouteSpec]:
        return [
            RouteSpec(
                "POST",
                "/records/namespaces/{namespace}/upsert",
                "upsert_records",
                "Upsert text records (NDJSON), embedded by the index's model",
                self.upsert,
                True,
            ),
            RouteSpec(
                "POST",
                "/records/namespaces/{namespace}/search",
                "search_records",
                "Search records by text, vector or id, optionally reranked",
                self.search,
                True,
            ),
        ]

    def _records(self) -> RecordsService:
        return RecordsService(self.catalog.index(self.index_name))

    async def upsert(self, request: Request) -> Response:
        namespace = rest.namespace_in(request.path_params["namespace"])
        body = await read_body(request, self.limit, NDJSON | JSON)
        records = self._records()

        def parse_and_upsert() -> int:
            return records.upsert_records(namespace, records_json.upsert_ndjson(body))

        count = await run_in_inference_pool(parse_and_upsert)
        # Pinecone answers 201 with an empty body; the SDK counts the records itself. The count helps curl.
        return json_response({"upserted_count": count}, 201)

    async def search(self, request: Request) -> Response:
        namespace = rest.namespace_in(request.path_params["namespace"])
        query, fields, rerank = records_json.search_request(await read_json(request, self.limit))
        records = self._records()
        result = await run_in_inference_pool(lambda: records.search(namespace, query, fields, rerank))
        response = json_response(records_json.search_response(result))
        # Where the time went (embed / search / rerank), readable in browser dev tools and benchmarks.
        response.headers["server-timing"] = ", ".join(
            f"{stage};dur={seconds * 1e3:.3f}" for stage, seconds in result.timings.items()
        )
        return response
