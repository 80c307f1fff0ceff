#!/usr/bin/env python3
"""PyTorch eager twin of spruce's CPU benchmarks (`spruce bench importance|train|evaluate`).

The same LLaMA math as dev.spruce.model.LlamaModel (RMSNorm in float32, RoPE with Hugging Face's
rotate_half, grouped key/value heads, an additive causal bias of -1e9, SwiGLU, untied LM head), the same
random-model shapes as BenchModelOptions (intermediate = ceil(8/3 hidden / 64) * 64, vocab 8000, 4 layers,
8 heads) and the same work as the Java benchmarks:

  importance  param_first: per micro-batch of 4 samples, backward of the sum over rows of each row's mean
              NLL into the seven linear weights of every layer, gradients summed into float32 totals
              (GradientAccumulator).
  train       one LoRA step (rank 8, alpha 16, dropout 0.05 on the adapter input, all seven linear modules,
              LoraSettings.reference()): global batch 16 in micro-batches of 4, loss = summed NLL over the
              global token count, clip at 1.0, AdamW(1e-4, 0.9, 0.999, 1e-8, no decay) (TrainBenchmark).
  evaluate    perplexity over non-overlapping windows of --length tokens, batches of --batch-tokens padded
              tokens, log-softmax and gather of the next token (EvaluationBenchmark, perplexity row).
  gemm        float32 [n x n] @ [n x n] GFLOP/s.

Prints one line `RESULT <json>` per measurement. Tokens count predicted tokens, as spruce does.
`parse` turns `spruce bench` output (stdin) into the same lines; `summarize LOG` prints the medians.
"""
import argparse
import json
import math
import os
import re
import statistics
import sys
import time

try:  # parse and summarize run without torch
    import torch
    import torch.nn.functional as F
except ImportError:
    torch = None

MASKED = -1e9
SEVEN = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


class Config:
    def __init__(self, a):
        self.layers, self.hidden, self.heads, self.vocab = a.layers, a.hidden, a.heads, a.vocab
        self.kv = a.kv_heads if a.kv_heads > 0 else a.heads
        self.hd = a.hidden // a.heads
        self.inter = a.intermediate if a.intermediate > 0 else int(math.ceil(a.hidden * 8.0 / 3 / 64)) * 64
        self.eps = 1e-6
        self.theta = 10000.0


def random_weights(c, gen):
    def mat(o, i):
        return (torch.randn(o, i, generator=gen) * 0.02).contiguous()
    w = {"embed": mat(c.vocab, c.hidden), "norm": torch.ones(c.hidden), "lm_head": mat(c.vocab, c.hidden)}
    for l in range(c.layers):
        w[f"{l}.input_layernorm"] = torch.ones(c.hidden)
        w[f"{l}.post_attention_layernorm"] = torch.ones(c.hidden)
        w[f"{l}.q_proj"] = mat(c.heads * c.hd, c.hidden)
        w[f"{l}.k_proj"] = mat(c.kv * c.hd, c.hidden)
        w[f"{l}.v_proj"] = mat(c.kv * c.hd, c.hidden)
        w[f"{l}.o_proj"] = mat(c.hidden, c.heads * c.hd)
        w[f"{l}.gate_proj"] = mat(c.inter, c.hidden)
        w[f"{l}.up_proj"] = mat(c.inter, c.hidden)
        w[f"{l}.down_proj"] = mat(c.hidden, c.inter)
    return w


def rms_norm(x, weight, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * weight


def rotate(u, cos, sin):
    u1, u2 = u.chunk(2, dim=-1)
    return u * cos + torch.cat((-u2, u1), dim=-1) * sin


def forward(c, w, ids, lora=None, dropout=0.0):
    b, t = ids.shape
    rep = c.heads // c.kv
    inv = 1.0 / (c.theta ** (torch.arange(0, c.hd, 2, dtype=torch.float64) / c.hd))
    freqs = torch.outer(torch.arange(t, dtype=torch.float64), inv)
    emb = torch.cat((freqs, freqs), dim=-1)
    cos, sin = emb.cos().float().view(1, 1, 1, t, c.hd), emb.sin().float().view(1, 1, 1, t, c.hd)
    bias = torch.full((t, t), MASKED).triu(1).view(1, 1, 1, t, t)
    scale = 1.0 / math.sqrt(c.hd)

    def linear(l, name, x):
        y = F.linear(x, w[f"{l}.{name}"])
        if lora is not None and (l, name) in lora:
            a, bb, s = lora[(l, name)]
            xd = F.dropout(x, dropout, True) if dropout > 0 else x
            y = y + F.linear(F.linear(xd, a), bb) * s
        return y

    h = F.embedding(ids, w["embed"])
    for l in range(c.layers):
        x = rms_norm(h, w[f"{l}.input_layernorm"], c.eps)
        q = linear(l, "q_proj", x).view(b, t, c.kv, rep, c.hd).permute(0, 2, 3, 1, 4)
        k = linear(l, "k_proj", x).view(b, t, c.kv, 1, c.hd).permute(0, 2, 3, 1, 4)
        v = linear(l, "v_proj", x).view(b, t, c.kv, 1, c.hd).permute(0, 2, 3, 1, 4)
        q, k = rotate(q, cos, sin), rotate(k, cos, sin)
        p = (q @ k.transpose(-1, -2) * scale + bias).softmax(-1)
        ctx = (p @ v).permute(0, 3, 1, 2, 4).reshape(b, t, c.heads * c.hd)
        h = h + linear(l, "o_proj", ctx)
        x = rms_norm(h, w[f"{l}.post_attention_layernorm"], c.eps)
        h = h + linear(l, "down_proj", F.silu(linear(l, "gate_proj", x)) * linear(l, "up_proj", x))
    return F.linear(rms_norm(h, w["norm"], c.eps), w["lm_head"])


def row_nll_sums(logits, ids):
    lp = logits[:, :-1, :].log_softmax(-1)
    return -lp.gather(2, ids[:, 1:].unsqueeze(-1)).squeeze(-1).sum(1)


def random_ids(gen, n, length, vocab):
    return torch.randint(0, vocab, (n, length), generator=gen)


def importance(c, w, a, gen):
    ids = random_ids(gen, a.samples, a.length, a.vocab)
    scored = [f"{l}.{m}" for l in range(c.layers) for m in SEVEN]

    def run():
        sums = {}
        for s in range(0, a.samples, a.micro_batch):
            leaves = dict(w)
            for n in scored:
                leaves[n] = w[n].detach().requires_grad_(True)
            batch = ids[s:s + a.micro_batch]
            loss = (row_nll_sums(forward(c, leaves, batch), batch) / (a.length - 1)).sum()
            loss.backward()
            for n in scored:
                g = leaves[n].grad
                if n in sums:
                    sums[n].add_(g)
                else:
                    sums[n] = g.clone()
        return sums

    return run, a.samples * (a.length - 1)


def train(c, w, a, gen):
    ids = random_ids(gen, a.global_batch, a.length, a.vocab)
    lora, params = {}, []
    for l in range(c.layers):
        for m in SEVEN:
            o, i = w[f"{l}.{m}"].shape
            bound = 1.0 / math.sqrt(i)
            la = ((torch.rand(8, i, generator=gen) * 2 - 1) * bound).requires_grad_(True)
            lb = torch.zeros(o, 8).requires_grad_(True)
            lora[(l, m)] = (la, lb, 16.0 / 8)
            params += [la, lb]
    opt = torch.optim.AdamW(params, lr=1e-4, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)
    total = a.global_batch * (a.length - 1)

    def run():
        opt.zero_grad(set_to_none=True)
        for s in range(0, a.global_batch, a.micro_batch):
            batch = ids[s:s + a.micro_batch]
            loss = row_nll_sums(forward(c, w, batch, lora, 0.05), batch).sum() / total
            loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()

    return run, total


def evaluate(c, w, a, gen):
    ids = random_ids(gen, a.requests, a.length, a.vocab)
    per_batch = max(1, a.batch_tokens // a.length)

    def run():
        with torch.no_grad():
            nll = 0.0
            for s in range(0, a.requests, per_batch):
                batch = ids[s:s + per_batch]
                nll += float(row_nll_sums(forward(c, w, batch), batch).sum())
        return nll

    return run, a.requests * (a.length - 1)


def gemm(n, seconds=2.0):
    x, y = torch.randn(n, n), torch.randn(n, n)
    for _ in range(3):
        x @ y
    best, spent, calls, cpu0 = float("inf"), 0.0, 0, time.process_time()
    while spent < seconds:
        t0 = time.perf_counter()
        for _ in range(5):
            x @ y
        dt = (time.perf_counter() - t0) / 5
        best, spent, calls = min(best, dt), spent + dt * 5, calls + 5
    return 2.0 * n ** 3 / best / 1e9, 2.0 * n ** 3 * calls / (time.process_time() - cpu0) / 1e9


def load():
    return os.getloadavg()[0]


def table_rows(text):
    """Rows of spruce's text tables (TextTable: a header, a line of dashes, cells two or more spaces apart)."""
    lines = text.splitlines()
    rows = []
    for i in range(1, len(lines)):
        if lines[i].startswith("---") and set(lines[i]) <= set("- "):
            header = re.split(r"\s{2,}", lines[i - 1].strip())
            for line in lines[i + 1:]:
                cells = re.split(r"\s{2,}", line.strip())
                if len(cells) != len(header):
                    break
                rows.append(dict(zip(header, cells)))
    return rows


def parse(argv):
    p = argparse.ArgumentParser(prog="cpu_parity.py parse")
    p.add_argument("--engine", required=True)
    p.add_argument("--workload-name", required=True)
    p.add_argument("--hidden", type=int, required=True)
    p.add_argument("--threads", type=int, required=True)
    p.add_argument("--load", type=float, default=None)
    a = p.parse_args(argv)
    text = sys.stdin.read()
    base = {"engine": a.engine, "workload": a.workload_name, "threads": a.threads, "hidden": a.hidden,
            "load": a.load if a.load is not None else load()}
    rows = table_rows(text)
    if not rows:
        raise SystemExit("cpu_parity.py parse: no table in the spruce output:\n" + text[-2000:])
    if a.workload_name == "importance":
        r = rows[0]
        tokens = int(r["tokens"])
        out = dict(base, tokens=tokens, seconds=float(r["gradients s"]), tokens_per_s=tokens / float(r["gradients s"]),
                   job_seconds=float(r["importance s"]), job_tokens_per_s=float(r["tokens/s"]))
        if "forward/backward s" in r:
            out["pass_tokens_per_s"] = tokens / float(r["forward/backward s"])
    elif a.workload_name == "train":
        r = rows[0]
        step, compute = float(r["step s"]), float(r["compute s/step"])
        tokens = float(r["tokens/s"]) * step
        # the twin reports the median of its step times; spruce's own median step when it prints one
        median = float(r["median step s"]) if "median step s" in r else step
        out = dict(base, tokens=round(tokens), seconds=median, tokens_per_s=tokens / median,
                   mean_tokens_per_s=float(r["tokens/s"]), compute_seconds=compute,
                   compute_tokens_per_s=tokens / compute)
    else:
        r = next(x for x in rows if x["workload"] == "perplexity")
        out = dict(base, tokens=int(r["tokens"]), seconds=float(r["seconds"]),
                   tokens_per_s=int(r["tokens"]) / float(r["seconds"]))
    print("RESULT " + json.dumps(out))


def summarize(argv):
    results = []
    for line in open(argv[0]):
        if line.startswith("RESULT "):
            results.append(json.loads(line[len("RESULT "):]))
    med = statistics.median
    print("| workload | hidden | threads | spruce tokens/s | PyTorch tokens/s | spruce/PyTorch | runs | load |")
    print("|---|---:|---:|---:|---:|---:|---:|---|")
    keys = []
    for r in results:
        k = (r["workload"], r.get("hidden"), r.get("threads"))
        if r["workload"] in ("importance", "train", "evaluate") and k not in keys:
            keys.append(k)
    for k in keys:
        rs = [r for r in results if (r["workload"], r.get("hidden"), r.get("threads")) == k]
        s = [r["tokens_per_s"] for r in rs if r["engine"] == "spruce"]
        t = [r["tokens_per_s"] for r in rs if r["engine"] == "pytorch"]
        loads = [r["load"] for r in rs if r.get("load") is not None]
        if not s or not t:
            continue
        extra = ""
        if k[0] == "importance":
            extra = " (whole job %.0f" % med([r["job_tokens_per_s"] for r in rs if r["engine"] == "spruce"])
            passes = [r["pass_tokens_per_s"] for r in rs if r["engine"] == "spruce" and "pass_tokens_per_s" in r]
            extra += "; forward/backward only %.0f, %.2f)" % (med(passes), med(passes) / med(t)) if passes else ")"
        if k[0] == "train":
            compute = med([r["compute_tokens_per_s"] for r in rs if r["engine"] == "spruce"])
            extra = " (compute only %.0f, %.2f)" % (compute, compute / med(t))
        print("| %s | %d | %d | %.0f%s | %.0f | %.2f | %d+%d | %.1f-%.1f |" % (
            k[0], k[1], k[2], med(s), extra, med(t), med(s) / med(t), len(s), len(t),
            min(loads) if loads else 0, max(loads) if loads else 0))
    print()
    print("| float32 GEMM 1024 | threads | GFLOP/s (median, wall) | GFLOP per CPU-second | runs |")
    print("|---|---:|---:|---:|---:|")
    for engine in ("spruce", "pytorch"):
        for th in sorted({r["threads"] for r in results if r["workload"] == "gemm"}):
            g = [r["gflops"] for r in results if r["workload"] == "gemm" and r["engine"] == engine and r["threads"] == th]
            c = [r["gflops_per_cpu_s"] for r in results if r["workload"] == "gemm" and r["engine"] == engine
                 and r["threads"] == th and "gflops_per_cpu_s" in r]
            if g:
                name = "spruce (DJL libtorch, MKL)" if engine == "spruce" else "PyTorch eager (OpenBLAS)"
                print("| %s | %d | %.1f | %s | %d |" % (name, th, med(g), "%.1f" % med(c) if c else "-", len(g)))
    d = [r for r in results if r["workload"] == "dropout_masks"]
    if d:
        print()
        print("spruce LoRA dropout masks of one micro-batch (4 x 128 tokens, hidden %d, %d elements), drawn as "
              "LoraAdapters does on a CPU (DropoutMask.onHost): %.2f CPU-s (median)" % (d[0]["hidden"], d[0]["elements"], med([r["cpu_s"] for r in d])))
    o = [r for r in results if r["workload"] == "overheads"]
    if o:
        print()
        print("spruce per-call costs (median): tiny NDArray op %.1f us, a [4,1,1,128,128] double[] table shipped "
              "with Djl.fromDoubles %.0f us" % (med([r["tiny_op_us"] for r in o]), med([r["table_64k_us"] for r in o])))


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "parse":
        return parse(sys.argv[2:])
    if len(sys.argv) > 1 and sys.argv[1] == "summarize":
        return summarize(sys.argv[2:])
    if torch is None:
        raise SystemExit("cpu_parity.py: torch is not importable; run it through jobs/cpu-parity.sh")
    p = argparse.ArgumentParser()
    p.add_argument("workload", choices=["importance", "train", "evaluate", "gemm"])
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--heads", type=int, default=8)
    p.add_argument("--kv-heads", type=int, default=0)
    p.add_argument("--intermediate", type=int, default=0)
    p.add_argument("--vocab", type=int, default=8000)
    p.add_argument("--samples", type=int, default=32)
    p.add_argument("--length", type=int, default=128)
    p.add_argument("--micro-batch", type=int, default=4)
    p.add_argument("--global-batch", type=int, default=16)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--requests", type=int, default=256)
    p.add_argument("--batch-tokens", type=int, default=2048)
    p.add_argument("--repeats", type=int, default=1, help="timed runs after one warm-up; the median is reported")
    p.add_argument("--gemm-size", type=int, default=1024)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    if a.workload == "gemm":
        wall, cpu = gemm(a.gemm_size)
        print("RESULT " + json.dumps({"engine": "pytorch", "workload": "gemm", "threads": a.threads, "n": a.gemm_size,
                                      "gflops": wall, "gflops_per_cpu_s": cpu, "load": load()}), flush=True)
        return
    c = Config(a)
    gen = torch.Generator().manual_seed(42)
    w = random_weights(c, gen)
    run, tokens = {"importance": importance, "train": train, "evaluate": evaluate}[a.workload](c, w, a, gen)
    # train: one step per timed run, as spruce's per-step figures; the others: the whole pass.
    run()
    times, cpus = [], []
    for _ in range(a.repeats if a.workload != "train" else a.repeats * a.steps):
        t0, c0 = time.perf_counter(), time.process_time()
        run()
        times.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    sec = statistics.median(times)
    print("RESULT " + json.dumps({"engine": "pytorch", "workload": a.workload, "threads": a.threads,
                                  "hidden": a.hidden, "tokens": tokens, "seconds": sec, "tokens_per_s": tokens / sec,
                                  "cpu_seconds": statistics.median(cpus),
                                  "load": load(), "torch": torch.__version__}), flush=True)


if __name__ == "__main__":
    main()
