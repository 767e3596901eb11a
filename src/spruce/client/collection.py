"""The Collection API (Chroma / pyseekdb style), the same class embedded and remote.

    client = spruce.Client(path="./data")            # or spruce.HttpClient(host="http://localhost:5080")
    col = client.get_or_create_collection("docs", embedding_function=None)
    col.upsert(ids="a", embeddings=[0.1, 0.2, 0.3], documents="hello", metadatas={"k": 1})
    col.query(query_embeddings=[0.1, 0.2, 0.3], n_results=5, where={"k": {"$gte": 1}})

This layer shapes arguments (one id or a list, one vector or a list, numpy accepted) and runs the
embedding function for documents and query texts; which function a collection gets, checked against
the one stored with it, is decided when the client binds it (client/collections_mixin.py). Everything
else (validation, storage, search) is the service's, behind a backend (client/collection_backend.py):
`CollectionService` in process, or `spruce.client.http_collection.HttpBackend` over REST, so both
clients give the same results and raise the same exceptions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from spruce.client.collection_backend import Backend
from spruce.errors import InvalidArgumentError
from spruce.service.collection_registry import CollectionInfo
from spruce.service.collection_rules import GET_INCLUDE, QUERY_INCLUDE, check_ids


def _embed(ef: Any, texts: list[str], query: bool) -> np.ndarray[Any, Any]:
    fn = getattr(ef, "embed_query", None) if query else None
    out = fn(texts) if callable(fn) else ef(texts)
    try:
        mat = np.asarray(out, dtype=np.float32)
    except (TypeError, ValueError):
        raise InvalidArgumentError("the embedding function returned something that is not numbers") from None
    if mat.ndim != 2 or len(mat) != len(texts):
        raise InvalidArgumentError(
            f"the embedding function returned {mat.shape[0] if mat.ndim else 0} embeddings "
            f"for {len(texts)} texts"
        )
    return mat


# -- argument shaping -----------------------------------------------------------------------------
def _ids(ids: Any) -> Any:
    if isinstance(ids, str):
        return [ids]
    if isinstance(ids, np.ndarray):
        return ids.tolist()
    return list(ids) if isinstance(ids, list | tuple) else ids


def _vectors(emb: Any) -> Any:
    """One vector or a list of them, lists or numpy, as a 2-D float32 array (None stays None)."""
    if emb is None:
        return None
    try:
        arr = np.asarray(emb, dtype=np.float32)
    except (TypeError, ValueError):
        raise InvalidArgumentError("embeddings must be numbers: one vector or a list of vectors") from None
    if arr.ndim == 1:
        if arr.size == 0:
            raise InvalidArgumentError("embeddings must not be empty")
        arr = arr[None, :]
    return arr


def _many(value: Any, single: type | tuple[type, ...]) -> Any:
    if value is None:
        return None
    if isinstance(value, single):
        return [value]
    return list(value) if isinstance(value, list | tuple) else value


class Collection:
    """One collection; obtained from a client's create_collection / get_collection."""

    def __init__(self, backend: Backend, info: Mapping[str, Any], embedding_function: Any) -> None:
        self._backend = backend
        self._info = dict(info)
        self._ef = embedding_function

    def __repr__(self) -> str:
        return f"Collection(name={self.name!r}, id={self.id!r})"

    # -- properties -------------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return str(self._info["name"])

    @property
    def id(self) -> str:
        return str(self._info["id"])

    @property
    def dimension(self) -> int | None:
        if self._info.get("dimension") is None:
            self._info = self._backend.info(self.name)
        dim = self._info.get("dimension")
        return int(dim) if dim is not None else None

    @property
    def metric(self) -> str:
        return str(self._info["metric"])

    @property
    def metadata(self) -> dict[str, Any] | None:
        meta = self._info.get("metadata")
        return dict(meta) if meta else None

    @property
    def index_name(self) -> str:
        """The Pinecone index that stores this collection."""
        return str(self._info["index"])

    @property
    def embedding_function(self) -> Any:
        return self._ef

    # -- helpers ----------------------------------------------------------------------------------
    def _need_ef(self, what: str) -> Any:
        if self._ef is None:
            stored = self._info.get("embedding_function")
            hint = (
                f"it was created with embedding function {stored!r}: pass it as "
                "get_collection(name, embedding_function=...)"
                if stored
                else "it has no embedding function"
            )
            raise InvalidArgumentError(f"{what} given without embeddings, but {hint}; pass embeddings")
        return self._ef

    def _write_args(
        self, op: str, ids: Any, embeddings: Any, metadatas: Any, documents: Any
    ) -> dict[str, Any]:
        ids = _ids(ids)
        docs = _many(documents, str)
        metas = _many(metadatas, Mapping)
        vectors = _vectors(embeddings)
        if vectors is None and docs is not None:
            id_list = check_ids(ids, op)
            if len(docs) != len(id_list):
                raise InvalidArgumentError(
                    f"unequal lengths for fields: ids: {len(id_list)}, documents: {len(docs)} in {op}"
                )
            if any(not isinstance(d, str) for d in docs):
                raise InvalidArgumentError(f"documents to embed must all be strings in {op}")
            vectors = _embed(self._need_ef("documents"), docs, query=False)
        return {"ids": ids, "embeddings": vectors, "metadatas": metas, "documents": docs}

    # -- writes -----------------------------------------------------------------------------------
    def add(
        self,
        ids: Any,
        embeddings: Any = None,
        metadatas: Any = None,
        documents: Any = None,
        images: Any = None,
        uris: Any = None,
    ) -> None:
        _no_media(images, uris)
        self._backend.call(self.name, "add", **self._write_args("add", ids, embeddings, metadatas, documents))

    def upsert(
        self,
        ids: Any,
        embeddings: Any = None,
        metadatas: Any = None,
        documents: Any = None,
        images: Any = None,
        uris: Any = None,
    ) -> None:
        _no_media(images, uris)
        args = self._write_args("upsert", ids, embeddings, metadatas, documents)
        self._backend.call(self.name, "upsert", **args)

    def update(
        self,
        ids: Any,
        embeddings: Any = None,
        metadatas: Any = None,
        documents: Any = None,
        images: Any = None,
        uris: Any = None,
    ) -> None:
        _no_media(images, uris)
        args = self._write_args("update", ids, embeddings, metadatas, documents)
        self._backend.call(self.name, "update", **args)

    def delete(self, ids: Any = None, where: Any = None, where_document: Any = None) -> dict[str, int]:
        deleted = self._backend.call(
            self.name, "delete", ids=_ids(ids), where=where, where_document=where_document
        )
        return {"deleted": int(deleted)}

    # -- reads ------------------------------------------------------------------------------------
    def count(self) -> int:
        return int(self._backend.call(self.name, "count"))

    def get(
        self,
        ids: Any = None,
        where: Any = None,
        limit: int | None = None,
        offset: int | None = None,
        where_document: Any = None,
        include: Sequence[str] = GET_INCLUDE,
    ) -> dict[str, Any]:
        result: dict[str, Any] = self._backend.call(
            self.name,
            "get",
            ids=_ids(ids),
            where=where,
            where_document=where_document,
            limit=limit,
            offset=offset,
            include=list(include) if isinstance(include, list | tuple) else include,
        )
        return result

    def peek(self, limit: int = 10) -> dict[str, Any]:
        return self.get(limit=limit, include=["embeddings", "documents", "metadatas"])

    def query(
        self,
        query_embeddings: Any = None,
        query_texts: Any = None,
        query_images: Any = None,
        query_uris: Any = None,
        ids: Any = None,
        n_results: int = 10,
        where: Any = None,
        where_document: Any = None,
        include: Sequence[str] = QUERY_INCLUDE,
    ) -> dict[str, Any]:
        _no_media(query_images, query_uris)
        vectors = self._query_vectors(query_embeddings, query_texts)
        result: dict[str, Any] = self._backend.call(
            self.name,
            "query",
            query_embeddings=vectors,
            n_results=n_results,
            where=where,
            where_document=where_document,
            include=list(include) if isinstance(include, list | tuple) else include,
            ids=_ids(ids),
        )
        return result

    def _query_vectors(self, query_embeddings: Any, query_texts: Any) -> Any:
        if query_embeddings is not None and query_texts is not None:
            raise InvalidArgumentError("give query_embeddings or query_texts, not both")
        if query_texts is not None:
            texts = _many(query_texts, str)
            if not texts or not all(isinstance(t, str) for t in texts):
                raise InvalidArgumentError("query_texts must be a string or a non-empty list of strings")
            return _embed(self._need_ef("query_texts"), texts, query=True)
        if query_embeddings is None:
            raise InvalidArgumentError("query needs query_embeddings or query_texts")
        return _vectors(query_embeddings)

    def hybrid_search(
        self,
        query: Any = None,
        knn: Any = None,
        rank: Any = None,
        n_results: int = 10,
        include: Sequence[str] | None = None,
    ) -> dict[str, Any]:
        query = _single(query, "query")
        knn = _single(knn, "knn")
        if isinstance(knn, Mapping) and ("query_texts" in knn or "query_embeddings" in knn):
            knn = dict(knn)
            vectors = self._query_vectors(knn.pop("query_embeddings", None), knn.pop("query_texts", None))
            knn["query_embeddings"] = vectors
        result: dict[str, Any] = self._backend.call(
            self.name,
            "hybrid_search",
            query=query,
            knn=knn,
            rank=rank,
            n_results=n_results,
            include=list(include) if include is not None else None,
        )
        return result

    # -- collection settings ------------------------------------------------------------------------
    def modify(self, name: str | None = None, metadata: Any = None, configuration: Any = None) -> None:
        if configuration is not None:
            raise InvalidArgumentError(
                "modify cannot change a collection's configuration (metric, dimension)"
            )
        self._info = self._backend.modify(self.name, name, metadata)


def _no_media(images: Any, uris: Any) -> None:
    if images is not None or uris is not None:
        raise InvalidArgumentError("images and uris are not supported; pass documents or embeddings")


def _single(value: Any, what: str) -> Any:
    if isinstance(value, list | tuple):
        if len(value) != 1:
            raise InvalidArgumentError(f"hybrid_search takes one {what} object (got a list of {len(value)})")
        return value[0]
    return value


def info_json(info: CollectionInfo) -> dict[str, Any]:
    return info.to_json()
