"""The `VectorService` servicer: Pinecone's gRPC data plane on top of the shared `Catalog`.

Each RPC authenticates (`api-key` metadata, same rule as REST) before its request is decoded, finds
the index the client dialed (through `resolve_index`, see backend.py), then decodes and converts the
request, calls the synchronous service and builds the response in a worker thread. Conversion happens
in the thread too: a 1000-vector upsert is milliseconds of protobuf and numpy work that would otherwise
stall every other connection's I/O.
Even tiny calls go to the thread: running DescribeIndexStats/Fetch-1 inline on the event loop was
measured at only ~0.04 ms faster (0.48 vs 0.52 ms p50 over loopback), not worth letting a call that
waits on a store lock behind a writer block every REST and gRPC connection of the process.

Errors: `SpruceError`s become the gRPC status of `spruce.wire.errors.lookup` with their message; any
other exception is our bug, so it is logged with its traceback and the client only sees INTERNAL.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import Executor
from typing import TYPE_CHECKING, Any, TypeVar

import grpc
from google.protobuf.message import DecodeError, Message

from spruce.errors import InvalidArgumentError, NotFoundError, SpruceError, UnauthenticatedError
from spruce.wire import errors as wire_errors
from spruce.wire import grpc_convert as conv
from spruce.wire.pb import vector_service_pb2 as pb

if TYPE_CHECKING:
    from spruce.service.catalog import Catalog
    from spruce.service.data import IndexService

log = logging.getLogger(__name__)

# Matches the SDKs' own limit (wire doc section 6), so any request they can send, we can receive.
MAX_MESSAGE_BYTES = 128 * 1024 * 1024
SERVER_OPTIONS: list[tuple[str, Any]] = [
    ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
    ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
]
DEFAULT_LIST_LIMIT = 100
# We have no billing; a constant keeps `usage.read_units` present the way the SDKs expect it.
READ_UNITS = 1

Req = TypeVar("Req")
Resp = TypeVar("Resp")
M = TypeVar("M", bound=Message)
Handler = Callable[["IndexService", Req], Resp]
Behavior = Callable[[bytes, grpc.aio.ServicerContext], Awaitable[Message]]


class VectorServicer:
    """One servicer for every index: the index comes from the connection, not from the request.

    Its methods are registered as a generic handler whose requests arrive as raw bytes (`generic_handler`):
    grpcio would otherwise decode the protobuf before any of our code runs, so an unauthenticated client
    could make the server parse up to 128 MB per call, and a corrupt message would surface as UNKNOWN.
    Here the key is checked first, then the bytes are decoded (a failure is INVALID_ARGUMENT naming the
    message type), then the call runs.
    """

    def __init__(
        self,
        catalog: Catalog,
        *,
        api_keys: Sequence[str] = (),
        resolve_index: Callable[[str], str | None],
        executor: Executor | None = None,
    ) -> None:
        self._catalog = catalog
        self._api_keys = frozenset(api_keys)
        self._resolve_index = resolve_index
        self._executor = executor

    def generic_handler(self) -> grpc.GenericRpcHandler:
        handlers = {
            name: grpc.unary_unary_rpc_method_handler(
                self._behavior(request_type, handler), response_serializer=_serialize
            )
            for name, (request_type, handler) in METHODS.items()
        }
        return grpc.method_handlers_generic_handler(SERVICE_NAME, handlers)

    # --- plumbing -------------------------------------------------------------------------------------

    def _behavior(self, request_type: type[Message], handler: Handler[Any, Any]) -> Behavior:
        async def behavior(raw: bytes, context: grpc.aio.ServicerContext) -> Message:
            return await self._call(context, raw, request_type, handler)

        return behavior

    def _authenticate(self, context: grpc.aio.ServicerContext) -> None:
        if not self._api_keys:
            return  # no keys configured: open server, like REST
        key = None
        for name, value in context.invocation_metadata() or ():
            if name == "api-key":
                key = value
                break
        if key is None:
            raise UnauthenticatedError("Missing API key: send it in the 'api-key' metadata")
        if key not in self._api_keys:
            raise UnauthenticatedError("Invalid API key")

    def _index_name(self, context: grpc.aio.ServicerContext) -> str:
        name = self._resolve_index(context.peer())
        if name is None:
            raise NotFoundError("No index is served on this port")
        return name

    def _invoke(self, name: str, raw: bytes, request_type: type[Message], handler: Handler[Any, Any]) -> Any:
        return handler(self._catalog.index(name), decode(request_type, raw))

    async def _call(
        self,
        context: grpc.aio.ServicerContext,
        raw: bytes,
        request_type: type[Message],
        handler: Handler[Any, Any],
    ) -> Message:
        try:
            self._authenticate(context)
            name = self._index_name(context)
            loop = asyncio.get_running_loop()
            response: Message = await loop.run_in_executor(
                self._executor, self._invoke, name, raw, request_type, handler
            )
            return response
        except SpruceError as exc:
            code = wire_errors.lookup(exc)
            message = exc.message
        except Exception:
            log.exception("gRPC %s failed", request_type.__name__)
            code = wire_errors.INTERNAL
            message = "Internal error"
        # abort() raises; it is outside the try so our own handlers never swallow it.
        await context.abort(grpc.StatusCode[code.grpc_status_name], message)
        raise AssertionError("unreachable: context.abort returned")


def decode(request_type: type[M], raw: bytes) -> M:
    """The request message from its bytes; INVALID_ARGUMENT (through the error table) when corrupt."""
    try:
        message: M = request_type.FromString(raw)
    except DecodeError as exc:
        raise InvalidArgumentError(
            f"the request is not a valid {request_type.__name__} protobuf message ({exc}); "
            "send it as the VectorService .proto defines it"
        ) from None
    return message


def _serialize(message: Message) -> bytes:
    data: bytes = message.SerializeToString()
    return data


def add_to_server(servicer: VectorServicer, server: grpc.aio.Server) -> None:
    server.add_generic_rpc_handlers((servicer.generic_handler(),))


# --- handlers: sync, run in a worker thread -----------------------------------------------------------


def _filter_in(msg: Any, field: str) -> dict[str, Any] | None:
    return conv.struct_to_dict(getattr(msg, field)) if msg.HasField(field) else None


def _upsert(svc: IndexService, req: pb.UpsertRequest) -> pb.UpsertResponse:
    records = [conv.record_in(v) for v in req.vectors]
    count = svc.upsert(records, conv.namespace_in(req.namespace))
    return pb.UpsertResponse(upserted_count=count)


def _delete(svc: IndexService, req: pb.DeleteRequest) -> pb.DeleteResponse:
    svc.delete(
        namespace=conv.namespace_in(req.namespace),
        ids=list(req.ids) or None,
        delete_all=req.delete_all,
        filter=_filter_in(req, "filter"),
    )
    return pb.DeleteResponse()


def _fetch(svc: IndexService, req: pb.FetchRequest) -> pb.FetchResponse:
    found = svc.fetch(list(req.ids), conv.namespace_in(req.namespace))
    out = pb.FetchResponse(namespace=req.namespace)
    out.usage.read_units = READ_UNITS
    for rid, record in found.items():
        conv.fill_vector(out.vectors[rid], record)
    return out


def _fetch_by_metadata(svc: IndexService, req: pb.FetchByMetadataRequest) -> pb.FetchByMetadataResponse:
    records, token = svc.fetch_by_metadata(
        _filter_in(req, "filter"),
        conv.namespace_in(req.namespace),
        limit=req.limit if req.HasField("limit") else DEFAULT_LIST_LIMIT,
        pagination_token=req.pagination_token if req.HasField("pagination_token") else None,
    )
    out = pb.FetchByMetadataResponse(namespace=req.namespace)
    out.usage.read_units = READ_UNITS
    for record in records:
        conv.fill_vector(out.vectors[record.id], record)
    if token:
        out.pagination.next = token
    return out


def _list(svc: IndexService, req: pb.ListRequest) -> pb.ListResponse:
    page = svc.list_ids(
        conv.namespace_in(req.namespace),
        prefix=req.prefix if req.HasField("prefix") else None,
        limit=req.limit if req.HasField("limit") else DEFAULT_LIST_LIMIT,
        pagination_token=req.pagination_token if req.HasField("pagination_token") else None,
    )
    out = pb.ListResponse(namespace=req.namespace, vectors=[pb.ListItem(id=i) for i in page.items])
    out.usage.read_units = READ_UNITS
    if page.next_token:
        out.pagination.next = page.next_token
    return out


def _query(svc: IndexService, req: pb.QueryRequest) -> pb.QueryResponse:
    if len(req.queries):
        raise InvalidArgumentError(
            "The deprecated 'queries' field is not supported; send one query per request in 'vector'"
        )
    matches = svc.query(
        top_k=req.top_k,
        namespace=conv.namespace_in(req.namespace),
        vector=conv.floats_in(req.vector) if len(req.vector) else None,
        sparse_vector=conv.sparse_in(req.sparse_vector) if req.HasField("sparse_vector") else None,
        id=req.id or None,
        filter=_filter_in(req, "filter"),
        include_values=req.include_values,
        include_metadata=req.include_metadata,
    )
    out = pb.QueryResponse(namespace=req.namespace, matches=[conv.scored_out(m) for m in matches])
    out.usage.read_units = READ_UNITS
    return out


def _update(svc: IndexService, req: pb.UpdateRequest) -> pb.UpdateResponse:
    filter_ = _filter_in(req, "filter")
    matched = svc.update(
        namespace=conv.namespace_in(req.namespace),
        id=req.id or None,
        values=conv.floats_in(req.values) if len(req.values) else None,
        sparse_values=conv.sparse_in(req.sparse_values) if req.HasField("sparse_values") else None,
        set_metadata=conv.metadata_from_struct(req.set_metadata) if req.HasField("set_metadata") else None,
        filter=filter_,
        dry_run=req.dry_run,
    )
    # Pinecone reports matched_records only for updates by filter; by id the response is empty.
    if filter_ is not None:
        return pb.UpdateResponse(matched_records=matched)
    return pb.UpdateResponse()


def _describe_index_stats(
    svc: IndexService, req: pb.DescribeIndexStatsRequest
) -> pb.DescribeIndexStatsResponse:
    return conv.stats_out(svc.describe_index_stats(_filter_in(req, "filter")))


def _list_namespaces(svc: IndexService, req: pb.ListNamespacesRequest) -> pb.ListNamespacesResponse:
    infos, token, total = svc.list_namespaces(
        prefix=req.prefix if req.HasField("prefix") else None,
        limit=req.limit if req.HasField("limit") else DEFAULT_LIST_LIMIT,
        pagination_token=req.pagination_token if req.HasField("pagination_token") else None,
    )
    out = pb.ListNamespacesResponse(namespaces=[conv.namespace_out(i) for i in infos], total_count=total)
    if token:
        out.pagination.next = token
    return out


def _describe_namespace(svc: IndexService, req: pb.DescribeNamespaceRequest) -> pb.NamespaceDescription:
    return conv.namespace_out(svc.describe_namespace(conv.namespace_in(req.namespace)))


def _delete_namespace(svc: IndexService, req: pb.DeleteNamespaceRequest) -> pb.DeleteResponse:
    svc.delete_namespace(conv.namespace_in(req.namespace))
    return pb.DeleteResponse()


def _create_namespace(svc: IndexService, req: pb.CreateNamespaceRequest) -> pb.NamespaceDescription:
    info = svc.create_namespace(conv.namespace_in(req.name), schema_fields=conv.schema_fields_in(req))
    return conv.namespace_out(info)


SERVICE_NAME = "VectorService"

# Every RPC of `VectorService`, with its request type and handler (tests check it covers the .proto).
METHODS: dict[str, tuple[type[Message], Handler[Any, Any]]] = {
    "Upsert": (pb.UpsertRequest, _upsert),
    "Delete": (pb.DeleteRequest, _delete),
    "Fetch": (pb.FetchRequest, _fetch),
    "FetchByMetadata": (pb.FetchByMetadataRequest, _fetch_by_metadata),
    "List": (pb.ListRequest, _list),
    "Query": (pb.QueryRequest, _query),
    "Update": (pb.UpdateRequest, _update),
    "DescribeIndexStats": (pb.DescribeIndexStatsRequest, _describe_index_stats),
    "ListNamespaces": (pb.ListNamespacesRequest, _list_namespaces),
    "DescribeNamespace": (pb.DescribeNamespaceRequest, _describe_namespace),
    "DeleteNamespace": (pb.DeleteNamespaceRequest, _delete_namespace),
    "CreateNamespace": (pb.CreateNamespaceRequest, _create_namespace),
}
