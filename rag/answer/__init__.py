"""`rag ask`: structured, cited answers composed from retrieved passages."""
