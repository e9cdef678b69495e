"""ONNX export of the trained reranker (imports torch): `rerank.onnx`, inputs input_ids, attention_mask,
token_type_ids (batch x sequence, int64), output `logits` (batch x 1). The legacy exporter with keyword
inputs through a wrapper, as rag.embedding exports the query encoder."""

from __future__ import annotations

import warnings
from pathlib import Path

INPUTS = ("input_ids", "attention_mask", "token_type_ids")
OUTPUT = "logits"


def export_onnx(model, path: Path, sample: dict) -> None:
    """Write `model` (a sequence classifier, eval mode) to `path`; `sample` is a PairEncoder batch (numpy)."""
    import torch

    class Wrapper(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.inner(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids).logits

    model.eval()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            Wrapper(model),
            tuple(torch.from_numpy(sample[name]) for name in INPUTS),
            str(path),
            input_names=list(INPUTS),
            output_names=[OUTPUT],
            dynamic_axes={**{name: {0: "batch", 1: "sequence"} for name in INPUTS}, OUTPUT: {0: "batch"}},
            opset_version=17,
            dynamo=False,
        )
