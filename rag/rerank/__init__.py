"""A reranker trained here: a cross-encoder initialised from the packaged MiniLM weights, trained on the
pairs `rag tune` reads with BM25-mined hard negatives, run with onnxruntime on a retriever's top hits.

One job a module: settings.py (every knob), data.py (pairs, holdout, negatives), trainer.py (the torch
loop), export.py (ONNX), manifest.py (rerank.json and the folder check), run.py (the stages and the
atomic folder), encode.py (pair tokenization, shared by training and scoring), scorer.py (onnxruntime),
retriever.py (reranking a retriever's hits). Only trainer.py, export.py and run.py import torch."""
