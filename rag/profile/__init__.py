"""The field profile of an index: what its corpus covers (bodies, conditions, drugs, trials, topic
terms), learned when it is built and read by `rag ask` for understanding and abstention."""

from rag.profile.model import PROFILE_DB, PROFILE_JSON, FieldProfile, Named

__all__ = ["PROFILE_DB", "PROFILE_JSON", "FieldProfile", "Named"]
