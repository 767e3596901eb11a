"""Records shared by the records-API tests (pinecone 10.2.0 in pytest, 7.3.0 in its own virtualenv).

Plain data only: the 7.3.0 scenario imports it from the pinecone7 virtualenv, where nothing else of the
test suite is importable.
"""

from __future__ import annotations

DENSE_MODEL = "llama-text-embed-v2"
SPARSE_MODEL = "pinecone-sparse-english-v0"
RERANK_MODEL = "bge-reranker-v2-m3"
FIELD = "chunk_text"

_ROWS = [
    ("rec1", "The Eiffel Tower in Paris was completed in 1889 for the World's Fair.", "history"),
    ("rec2", "Regular aerobic exercise strengthens the heart and lowers blood pressure.", "health"),
    ("rec3", "Photosynthesis lets plants turn sunlight, water and carbon dioxide into sugar.", "science"),
    ("rec4", "A sourdough starter is a fermented mix of flour and water that leavens bread.", "food"),
    ("rec5", "The stock market fell sharply after the central bank raised interest rates.", "finance"),
    ("rec6", "Eating vegetables and fruit rich in fibre helps prevent heart disease.", "health"),
    ("rec7", "Jupiter is the largest planet in the solar system, a gas giant with a red spot.", "science"),
    ("rec8", "Espresso is brewed by forcing hot water through finely ground coffee beans.", "food"),
]
RECORDS: list[dict[str, str]] = [{"_id": rid, FIELD: text, "category": cat} for rid, text, cat in _ROWS]

QUERY = "how to keep your heart healthy"
HEALTH = {"rec2", "rec6"}
SPARSE_QUERY = "espresso coffee beans"


def text_of(rid: str) -> str:
    return next(r[FIELD] for r in RECORDS if r["_id"] == rid)
