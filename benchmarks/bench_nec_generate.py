"""NEC's BART decoding through edg vs Hugging Face ``generate`` (target: edg / HF <= 1.10, same outputs).

    flock /tmp/edg-heavy.lock .venv/bin/python benchmarks/bench_nec_generate.py [--sizes tiny base] [--n 32]

One BART built from a ``BartConfig`` per size (``tiny``: the NEC tiny preset's backbone;
``base``: bart-base's dimensions, 768-d, 6+6 layers, 12 heads, FFN 3072), untrained (decoding
cost does not depend on the weights), vocabulary: a word tokenizer trained on the training
split of ``--data``. The inputs are the first ``--n`` test contexts, in batches of
``--batch``. edg decodes with NecModel + the ``nec.bart`` decoder without social knowledge
(then it is exactly BART's decoder) through ``model.generate`` -- the core's beam search over
the decoder's incremental state (Hugging Face ``EncoderDecoderCache``); HF decodes the same
BART with ``generate`` and the same settings (NEC's: beam 5, 5 returned, up to 30 new
tokens, length penalty 1, PAD/BOS suppressed, decoding starts with BOS as NEC's tiny BART).
Both run in the same process with one thread, alternating, ``--repeat`` times; the figure is
the median of the per-round ratios of process CPU time (robust when other jobs share the
machine); wall times are reported too. Writes ``benchmarks/results/nec_generate.json``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import torch

from _common import write_result

ROOT = Path(__file__).resolve().parent
TARGET = 1.10
SIZES = {
    "tiny": {"d_model": 32, "encoder_layers": 1, "decoder_layers": 1, "encoder_attention_heads": 2,
             "decoder_attention_heads": 2, "encoder_ffn_dim": 64, "decoder_ffn_dim": 64,
             "max_position_embeddings": 256},
    "base": {"d_model": 768, "encoder_layers": 6, "decoder_layers": 6, "encoder_attention_heads": 12,
             "decoder_attention_heads": 12, "encoder_ffn_dim": 3072, "decoder_ffn_dim": 3072,
             "max_position_embeddings": 1024},
}


def load_inputs(data: str, n: int, batch: int):
    from edg.config import TokenizerConfig
    from edg.data import load_splits
    from edg.tokenization import build_tokenizer

    splits = load_splits(data, max_examples={"valid": 1, "test": n})
    train = splits["train"]
    tok = build_tokenizer(TokenizerConfig(kind="word"), (t for s in train for t in (*s["context"], s["target"])))
    contexts = [" ".join(s["context"]) for s in splits["test"]]
    batches = []
    for s in range(0, len(contexts), batch):
        enc = tok(contexts[s : s + batch], padding=True, truncation=True, max_length=128, return_tensors="pt")
        batches.append({"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"]})
    return tok, batches


def build(size: str, tok):
    from edg_nec.knowledge_decoder import KnowledgeBartDecoder, KnowledgeBartDecoderOptions
    from edg_nec.model import NecModel, load_bart

    bart = load_bart("unused", SIZES[size], tok, seed=0).eval()
    start = bart.config.decoder_start_token_id
    decoder = KnowledgeBartDecoder(KnowledgeBartDecoderOptions(social=False), bart=bart, bos_id=start,
                                   eos_id=tok.eos_token_id, pad_id=tok.pad_token_id, banned_ids=(tok.bos_token_id,))
    return NecModel(bart, decoder).eval()


def run_edg(model, batches, cfg):
    out = []
    with torch.no_grad():
        for b in batches:
            out.extend([c.token_ids for c in cands] for cands in model.generate(b, cfg))
    return out


def run_hf(model, batches, cfg):
    bart, dec = model.bart, model.decoder
    k = cfg.num_return
    out = []
    with torch.no_grad():
        for b in batches:
            seqs = bart.generate(input_ids=b["input_ids"], attention_mask=b["attention_mask"], num_beams=cfg.beam_size,
                                 num_return_sequences=k, do_sample=False, max_new_tokens=cfg.max_length,
                                 min_new_tokens=cfg.min_length, length_penalty=cfg.length_penalty,
                                 early_stopping=False, no_repeat_ngram_size=0, suppress_tokens=list(dec.banned_ids),
                                 decoder_start_token_id=dec.bos_id, forced_bos_token_id=None,
                                 forced_eos_token_id=None).tolist()
            for i in range(0, len(seqs), k):
                cands = []
                for seq in seqs[i : i + k]:
                    seq = seq[1:]  # the decoder start token
                    cands.append(seq[: seq.index(dec.eos_id)] if dec.eos_id in seq else
                                 [t for t in seq if t != dec.pad_id])
                out.append(cands)
    return out


def timed(fn, *args):
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn(*args)
    return time.perf_counter() - wall, time.process_time() - cpu, out


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default=str(ROOT.parent.parent / "shared" / "data" / "empatheticdialogues"))
    parser.add_argument("--sizes", nargs="+", default=["tiny", "base"], choices=sorted(SIZES))
    parser.add_argument("--n", type=int, default=32)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    from edg.config import GenerationConfig

    torch.set_num_threads(1)
    tok, batches = load_inputs(args.data, args.n, args.batch)
    cfg = GenerationConfig(strategy="beam", beam_size=5, num_return=5, max_length=30, min_length=1,
                           length_penalty=1.0)
    result = {"benchmark": "nec_generate", "samples": sum(len(b["input_ids"]) for b in batches),
              "batch_size": args.batch, "vocab_size": len(tok), "generation": cfg.model_dump(include={
                  "strategy", "beam_size", "num_return", "max_length", "min_length", "length_penalty"}),
              "torch_threads": 1, "repeat": args.repeat, "target_ratio": TARGET, "sizes": {}}
    passed = True
    for size in args.sizes:
        model = build(size, tok)
        run_edg(model, batches[:1], cfg), run_hf(model, batches[:1], cfg)  # warm-up
        rounds = []
        for _ in range(args.repeat):  # alternating, so load changes hit both alike
            e_wall, e_cpu, ours = timed(run_edg, model, batches, cfg)
            h_wall, h_cpu, theirs = timed(run_hf, model, batches, cfg)
            rounds.append({"edg_cpu_s": round(e_cpu, 3), "hf_cpu_s": round(h_cpu, 3), "edg_wall_s": round(e_wall, 3),
                           "hf_wall_s": round(h_wall, 3), "ratio": round(e_cpu / h_cpu, 4)})
            print(size, rounds[-1], flush=True)
        same = ours == theirs
        ratio = statistics.median(r["ratio"] for r in rounds)
        ok = ratio <= TARGET and same
        passed &= ok
        c = model.bart.config
        result["sizes"][size] = {
            "model": {"d_model": c.d_model, "layers": f"{c.encoder_layers}+{c.decoder_layers}",
                      "heads": c.decoder_attention_heads, "ffn_dim": c.decoder_ffn_dim,
                      "parameters": sum(p.numel() for p in model.parameters())},
            "ratio": ratio, "same_outputs": same, "passed": ok,
            "edg_cpu_s": statistics.median(r["edg_cpu_s"] for r in rounds),
            "hf_cpu_s": statistics.median(r["hf_cpu_s"] for r in rounds), "rounds": rounds,
            "mean_response_tokens": round(statistics.mean(len(c[0]) for c in ours), 1),
        }
    result["passed"] = passed
    write_result("nec_generate", result)
    return 0 if passed else 1


if __name__ == "__main__":
    raise SystemExit(main())
