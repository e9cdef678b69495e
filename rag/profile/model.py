"""The field profile of an index: what its corpus covers, learned at build time and stored beside the
manifest as `profile.json` (small: a summary and the maintainer's declarations) and `profile.sqlite`
(the lookup tables a question reads a few rows of: aliases, drug names, topic terms, bodies, trials).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from rag.knowledge import FieldFile

PROFILE_JSON = "profile.json"
PROFILE_DB = "profile.sqlite"
PROFILE_SCHEMA = """
CREATE TABLE aliases (alias TEXT PRIMARY KEY, name TEXT NOT NULL, kind TEXT NOT NULL);
CREATE TABLE drug_names (name TEXT PRIMARY KEY);
CREATE TABLE topic (token TEXT PRIMARY KEY, documents INTEGER NOT NULL);
CREATE TABLE bodies (name TEXT PRIMARY KEY, documents INTEGER NOT NULL, kinds TEXT NOT NULL);
CREATE TABLE conditions (name TEXT PRIMARY KEY, documents INTEGER NOT NULL);
CREATE TABLE trials (name TEXT PRIMARY KEY, documents INTEGER NOT NULL);
"""
PROFILE_TABLES = ("aliases", "drug_names", "topic", "bodies", "conditions", "trials")
TOP = 20  # entries of each summary list


class Named(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    documents: int = Field(ge=0, description="Documents that name it.")


class FieldProfile(BaseModel):
    """profile.json: the summary `rag index status` shows and the declarations `rag ask` uses."""

    model_config = ConfigDict(extra="forbid")

    scope: str = Field(description="One line: what the corpus covers (declared, else written from the summary).")
    scope_declared: bool = Field(description="True when the scope line comes from the field file.")
    field_file: str | None = Field(default=None, description="The field.yaml the build read, if any.")
    declared: FieldFile = Field(default_factory=FieldFile, description="The field file's content.")
    documents: int
    kinds: dict[str, int] = Field(description="Documents per kind.")
    bodies: list[Named] = Field(description="Bodies and publishers present (canonical names), most documents first.")
    conditions: list[Named] = Field(description="Conditions covered, most documents first.")
    drugs: list[Named] = Field(description="Drugs the corpus names, most documents first.")
    trials: list[Named] = Field(description="Trial names and registry ids the corpus names.")
    counts: dict[str, int] = Field(description="Rows of each lookup table in profile.sqlite.")
