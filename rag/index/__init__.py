"""Index folders: build (atomic, resumable), load (checked against the manifest), inspect."""
