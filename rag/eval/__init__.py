"""`rag eval`: retrieval and answer evaluation on gold sets and BEIR benchmarks.

Modules, one job each:
    beir        BEIR folders: corpus.jsonl, queries.jsonl, qrels/<split>.tsv
    gold        the project's gold set (eval/gold/questions.jsonl), typed
    runs        qrels/run types, passage hits -> document run (MaxP), TREC run files
    metrics     nDCG@10, Recall@100, MRR@10, MAP through ranx, per query and mean
    compare     paired significance test and per-query wins/losses between two runs
    baselines   published figures (eval/baselines/*.json) with their sources
    indexing    the cached evaluation index of a dataset (content hash + settings)
    retrieval   `rag eval retrieval`: index, run, score, write the report folder
    answers     `rag eval answers`: the answer composer scored on the gold set
    report      rich tables, Markdown, JSON and the PNG chart

Importing this package is light: numpy, ranx, matplotlib and torch are imported inside functions.
"""
