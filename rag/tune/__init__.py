"""`rag tune`: fine-tune the embedder with in-batch and BM25-mined hard negatives (see run.py).

One job a module: settings.py (every knob), pairs.py (pairs from qrels or the corpus), negatives.py
(BM25 mining), batches.py (in-batch negatives without clashes), trainer.py (the torch loop),
run.py (the stages and the atomic model folder)."""
