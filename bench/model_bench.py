#!/usr/bin/python3
"""PyTorch peer of `klear model bench`: the same Qwen3 architecture (RMSNorm, rotate-half RoPE, GQA with per-head
q/k RMSNorm, SwiGLU, untied or tied head) written with plain torch ops, so Klear's figures have a reference.

Prints one JSON object. Also `--logits DIR --input-ids 1,2,3` prints the logits of a Hugging Face directory written by
Klear (own safetensors reader, no transformers needed), as an independent check of `klear model logits`.
Runs on Debian's python3-torch 1.13 (no scaled_dot_product_attention there, so attention is explicit). Installs nothing.
"""
import argparse, json, math, os, struct, sys, time

import torch
import torch.nn as nn
import torch.nn.functional as F

# ---- arguments (defaults = the benchmark model, Qwen3Config.Bench) ------------------------------------------------
p = argparse.ArgumentParser()
p.add_argument("--layers", type=int, default=4)
p.add_argument("--hidden", type=int, default=256)
p.add_argument("--heads", type=int, default=4)
p.add_argument("--kv-heads", type=int, default=2)
p.add_argument("--head-dim", type=int, default=64)
p.add_argument("--intermediate", type=int, default=1024)
p.add_argument("--vocab", type=int, default=512)
p.add_argument("--batch", type=int, default=16)
p.add_argument("--seq", type=int, default=256, help="training sequence length")
p.add_argument("--prompt-tokens", type=int, default=16)
p.add_argument("--new-tokens", type=int, default=256)
p.add_argument("--no-cache-tokens", type=int, default=256, help="new tokens for the recomputation run")
p.add_argument("--train-steps", type=int, default=5)
p.add_argument("--threads", type=int, default=1,
               help="torch intra-op threads; set OPENBLAS_NUM_THREADS to the same in the environment (OpenBLAS reads it at load)")
p.add_argument("--parts", default="train,gen,nocache", help="which measurements to run, comma-separated")
p.add_argument("--tie", action="store_true", help="tie the output head to the input embedding (the quickstart's model)")
p.add_argument("--logits", metavar="DIR")
p.add_argument("--input-ids")
args = p.parse_args()
torch.set_num_threads(args.threads)
parts = set(args.parts.split(","))


class Cfg:
    def __init__(self, **kw):
        self.__dict__.update(kw)


class RMSNorm(nn.Module):
    def __init__(self, dim, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x):
        x32 = x.float()
        return self.weight * (x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + self.eps)).to(x.dtype)


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


class Attention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.h, self.kvh, self.d = c.heads, c.kv_heads, c.head_dim
        self.q_proj = nn.Linear(c.hidden, c.heads * c.head_dim, bias=False)
        self.k_proj = nn.Linear(c.hidden, c.kv_heads * c.head_dim, bias=False)
        self.v_proj = nn.Linear(c.hidden, c.kv_heads * c.head_dim, bias=False)
        self.o_proj = nn.Linear(c.heads * c.head_dim, c.hidden, bias=False)
        self.q_norm = RMSNorm(c.head_dim, c.eps)
        self.k_norm = RMSNorm(c.head_dim, c.eps)

    def forward(self, x, cos, sin, mask, cache):
        B, T, _ = x.shape
        q = self.q_norm(self.q_proj(x).view(B, T, self.h, self.d)).transpose(1, 2)
        k = self.k_norm(self.k_proj(x).view(B, T, self.kvh, self.d)).transpose(1, 2)
        v = self.v_proj(x).view(B, T, self.kvh, self.d).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        if cache is not None and "buf_k" in cache:
            # Klear's KvCache: write the new keys/values into a preallocated buffer, attend over a view of it.
            n = cache["n"]
            cache["buf_k"][:, :, n:n + T] = k
            cache["buf_v"][:, :, n:n + T] = v
            cache["n"] = n + T
            k, v = cache["buf_k"][:, :, :n + T], cache["buf_v"][:, :, :n + T]
        elif cache is not None:
            # Hugging Face's DynamicCache: concatenate, copying the history at every step.
            if "k" in cache:
                k = torch.cat([cache["k"], k], 2)
                v = torch.cat([cache["v"], v], 2)
            cache["k"], cache["v"] = k, v
        rep = self.h // self.kvh
        if T == 1 and cache is not None and "buf_k" in cache:
            # Klear's decode step: a group's query heads share keys, so they take the query-length slot.
            qg = q.reshape(B, self.kvh, rep, self.d)
            y = ((qg @ k.transpose(-2, -1)) / math.sqrt(self.d)).softmax(-1) @ v  # [B, Hkv, rep, D]
            return self.o_proj(y.reshape(B, 1, self.h * self.d))
        k = k.repeat_interleave(rep, dim=1)
        v = v.repeat_interleave(rep, dim=1)
        att = (q @ k.transpose(-2, -1)) / math.sqrt(self.d)
        if mask is not None:
            att = att + mask
        y = att.softmax(-1) @ v
        return self.o_proj(y.transpose(1, 2).reshape(B, T, self.h * self.d))


class Mlp(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.gate_proj = nn.Linear(c.hidden, c.intermediate, bias=False)
        self.up_proj = nn.Linear(c.hidden, c.intermediate, bias=False)
        self.down_proj = nn.Linear(c.intermediate, c.hidden, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class Layer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.self_attn, self.mlp = Attention(c), Mlp(c)
        self.input_layernorm = RMSNorm(c.hidden, c.eps)
        self.post_attention_layernorm = RMSNorm(c.hidden, c.eps)

    def forward(self, x, cos, sin, mask, cache):
        h = x + self.self_attn(self.input_layernorm(x), cos, sin, mask, cache)
        return h + self.mlp(self.post_attention_layernorm(h))


class Body(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.embed_tokens = nn.Embedding(c.vocab, c.hidden)
        self.layers = nn.ModuleList([Layer(c) for _ in range(c.layers)])
        self.norm = RMSNorm(c.hidden, c.eps)


class Qwen3(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        self.model = Body(c)
        if not c.tie:
            self.lm_head = nn.Linear(c.hidden, c.vocab, bias=False)
        self.inv_freq = 1.0 / (c.theta ** (torch.arange(0, c.head_dim, 2).float() / c.head_dim))

    def forward(self, ids, caches=None, past=0):
        B, T = ids.shape
        pos = torch.arange(past, past + T).float()
        freqs = pos[:, None] * self.inv_freq[None, :]
        emb = torch.cat([freqs, freqs], -1)
        cos, sin = emb.cos()[None, None], emb.sin()[None, None]
        mask = None
        if T > 1:
            mask = torch.full((T, past + T), -1e9).triu(past + 1)[None, None]
        x = self.model.embed_tokens(ids)
        for i, layer in enumerate(self.model.layers):
            x = layer(x, cos, sin, mask, None if caches is None else caches[i])
        x = self.model.norm(x)
        w = self.model.embed_tokens.weight if self.c.tie else self.lm_head.weight
        return x @ w.t()


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        b, end = e["data_offsets"]
        raw = data[b:end]
        if e["dtype"] == "F32":
            t = torch.frombuffer(bytearray(raw), dtype=torch.float32)
        elif e["dtype"] == "BF16":
            t = torch.frombuffer(bytearray(raw), dtype=torch.int16).to(torch.int32).bitwise_left_shift(16).view(torch.float32)
        else:
            raise SystemExit(f"{path}: {name} has dtype {e['dtype']}")
        out[name] = t.reshape(e["shape"]).clone()
    return out


if args.logits:
    hf = json.load(open(os.path.join(args.logits, "config.json")))
    c = Cfg(layers=hf["num_hidden_layers"], hidden=hf["hidden_size"], heads=hf["num_attention_heads"],
            kv_heads=hf["num_key_value_heads"], head_dim=hf.get("head_dim") or hf["hidden_size"] // hf["num_attention_heads"],
            intermediate=hf["intermediate_size"], vocab=hf["vocab_size"], eps=hf["rms_norm_eps"], theta=hf["rope_theta"],
            tie=hf.get("tie_word_embeddings", False))
    if hf.get("rope_scaling"):
        raise SystemExit("this peer implements plain RoPE only")
    m = Qwen3(c)
    single = os.path.join(args.logits, "model.safetensors")
    files = [single] if os.path.exists(single) else sorted({os.path.join(args.logits, v) for v in json.load(open(os.path.join(args.logits, "model.safetensors.index.json")))["weight_map"].values()})
    state = {}
    for f in files:
        state.update(read_safetensors(f))
    missing, unexpected = m.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise SystemExit(f"missing {missing}, unexpected {unexpected}")
    ids = torch.tensor([[int(x) for x in args.input_ids.split(",")]])
    with torch.no_grad():
        print(json.dumps({"logits": m(ids)[0].tolist()}))
    sys.exit(0)

c = Cfg(layers=args.layers, hidden=args.hidden, heads=args.heads, kv_heads=args.kv_heads, head_dim=args.head_dim,
        intermediate=args.intermediate, vocab=args.vocab, eps=1e-6, theta=10000.0, tie=args.tie)
torch.manual_seed(0)
model = Qwen3(c)
for name, prm in model.named_parameters():
    if not name.endswith("norm.weight"):
        nn.init.normal_(prm, std=0.02)

# ---- fp32 matmul peak -----------------------------------------------------------------------------------------------
a, b = torch.randn(1024, 1024), torch.randn(1024, 1024)
a @ b
best = float("inf")
for _ in range(20):  # the best single product, as the Klear side: the mean mostly measures the neighbours
    t0 = time.perf_counter()
    a @ b
    best = min(best, time.perf_counter() - t0)
matmul_gflops = 2 * 1024 ** 3 / best / 1e9

# ---- training: forward, backward, AdamW -----------------------------------------------------------------------------
opt = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.0)
ids = torch.randint(0, c.vocab, (args.batch, args.seq + 1))


def train_step():
    logits = model(ids[:, :-1])
    loss = F.cross_entropy(logits.reshape(-1, c.vocab), ids[:, 1:].reshape(-1))
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()


train_tps = train_cpu_tps = None
if "train" in parts:
    train_step()
    step_s, step_cpu = [], []
    for _ in range(args.train_steps):
        t0, c0 = time.perf_counter(), time.process_time()
        train_step()
        step_s.append(time.perf_counter() - t0)
        step_cpu.append(time.process_time() - c0)
    train_tps = args.batch * args.seq / sorted(step_s)[args.train_steps // 2]  # median step, as the Klear side
    train_cpu_tps = args.batch * args.seq / sorted(step_cpu)[args.train_steps // 2]


# ---- generation: sampling at temperature 1, with and without a KV cache ---------------------------------------------
def generate(new_tokens, use_cache):
    """The work of Klear's Sampler.Generate at temperature 1 (no top-k/top-p): per-request uniforms drawn up front
    from per-request generators, inverse-CDF sampling with the drawn token's log-prob, tokens and log-probs copied to
    the host at every step (for the stop-token check), the KV cache preallocated and written in place."""
    g = torch.Generator().manual_seed(0)
    B, P = args.batch, args.prompt_tokens
    seq = torch.randint(0, c.vocab, (B, P), generator=g)
    uniforms = torch.stack([torch.rand(new_tokens, generator=torch.Generator().manual_seed(3 + i)) for i in range(B)])
    caches = None
    if use_cache:
        shape = (B, c.kv_heads, P + new_tokens, c.head_dim)
        caches = [{"buf_k": torch.zeros(shape), "buf_v": torch.zeros(shape), "n": 0} for _ in range(c.layers)]
    tokens, logprobs = [[] for _ in range(B)], [[] for _ in range(B)]
    with torch.no_grad():
        logits = model(seq, caches)[:, -1]
        for step in range(new_tokens):
            logp = logits.log_softmax(-1)                                         # [B, V]
            cdf = logp.exp().cumsum(-1)
            nxt = (cdf < uniforms[:, step:step + 1] * cdf[:, -1:]).sum(-1, keepdim=True).clamp_max(c.vocab - 1)
            lp = logp.gather(1, nxt)
            for i, (t, l) in enumerate(zip(nxt.squeeze(1).tolist(), lp.squeeze(1).tolist())):
                tokens[i].append(t)
                logprobs[i].append(l)
            seq = torch.cat([seq, nxt], 1)
            if step == new_tokens - 1:
                break
            if use_cache:
                logits = model(nxt, caches, past=seq.shape[1] - 1)[:, -1]
            else:
                logits = model(seq)[:, -1]
    return tokens, logprobs


def generate_simple(new_tokens):
    """The lighter loop this peer used before: torch.multinomial, no log-probs, no host copy, HF-style concatenating
    cache. Reported alongside, not compared."""
    g = torch.Generator().manual_seed(0)
    seq = torch.randint(0, c.vocab, (args.batch, args.prompt_tokens), generator=g)
    caches = [dict() for _ in range(c.layers)]
    with torch.no_grad():
        logits = model(seq, caches)[:, -1]
        for step in range(new_tokens):
            nxt = torch.multinomial(logits.softmax(-1), 1, generator=g)
            seq = torch.cat([seq, nxt], 1)
            if step == new_tokens - 1:
                break
            logits = model(nxt, caches, past=seq.shape[1] - 1)[:, -1]
    return seq


def tokens_per_s(run, new_tokens):
    """Per wall-clock second and per CPU-second of this process (the Klear side measures both the same way)."""
    t0, c0 = time.perf_counter(), time.process_time()
    run()
    n = args.batch * new_tokens
    return n / (time.perf_counter() - t0), n / (time.process_time() - c0)


gen_tps = gen_cpu_tps = gen_simple_tps = gen_nocache_tps = None
if "gen" in parts:
    generate(args.new_tokens, True)  # full-length warm-up, as the Klear side (which needs it for its JIT)
    runs = [tokens_per_s(lambda: generate(args.new_tokens, True), args.new_tokens) for _ in range(3)]
    gen_tps, gen_cpu_tps = sorted(r[0] for r in runs)[1], sorted(r[1] for r in runs)[1]  # medians of three
    gen_simple_tps, _ = tokens_per_s(lambda: generate_simple(args.new_tokens), args.new_tokens)
if "nocache" in parts:
    gen_nocache_tps, _ = tokens_per_s(lambda: generate(args.no_cache_tokens, False), args.no_cache_tokens)

def blas_library():
    """Which BLAS torch's libblas.so.3 resolved to: Debian's alternatives pick OpenBLAS only when it is installed, and
    the reference BLAS makes this peer ~14x slower than it is."""
    with open("/proc/self/maps") as f:
        paths = {line.split()[-1] for line in f if "blas" in line.lower() and "/" in line}
    if any("openblas" in x for x in paths):
        return "openblas"
    if any("/blas/libblas" in x for x in paths):
        return "reference"
    return "other: " + ", ".join(sorted(paths)) if paths else "none found"


import resource
print(json.dumps({
    "blas": blas_library(), "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    "torch_version": torch.__version__, "threads": torch.get_num_threads(), "matmul_gflops": matmul_gflops,
    "blas_threads": os.environ.get("OPENBLAS_NUM_THREADS", "default"),
    "train_tokens_per_s": train_tps, "train_tokens_per_cpu_s": train_cpu_tps, "gen_tokens_per_s": gen_tps, "gen_nocache_tokens_per_s": gen_nocache_tps,
    "gen_tokens_per_cpu_s": gen_cpu_tps, "gen_simple_tokens_per_s": gen_simple_tps,
}))
