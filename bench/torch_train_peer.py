#!/usr/bin/env python3
"""
A PyTorch training peer for bench/training.ts: whole optimizer steps of full fine-tuning of a plain
GPT-2 written in torch (nanoGPT-style: nn.Embedding wte/wpe, pre-LayerNorm blocks with a fused qkv
nn.Linear, causal attention through F.scaled_dot_product_attention where torch has it (2.0+), else
the explicit softmax form; GELU with the tanh approximation; the head tied to wte), fp32, random
weights, no dropout. Needs only torch (Debian: python3-torch, fast only with libopenblas0-openmp).

One step is what bench/training.ts times on our side:
  forward on ids [B, T]; per position t the NLL of token t + 1 (all B*T rows go through the
  log-softmax, the last position with a dummy target and weight 0, as our graph does);
  L1, L2 = token-level means sum(nll * m) / max(sum(m), 1) over the l1 / l2 masks; L3 = L2 + lambda * L1;
  backward of L3; clip the global gradient norm to 1; torch.optim.AdamW(lr=1e-4, weight_decay=0.01)
  step; zero_grad(set_to_none=True).
Weight decay goes where our AdamW puts it (src/training/optimizer.ts, decaysByDefault): to the
matrices, not to biases, LayerNorm gains or the embeddings (wte, which is also the head, and wpe).

After torch.set_num_threads(N): one warm-up step, then --steps timed steps. Prints one JSON line:
  {"step_ms": [...], "threads": N, "torch": "...", "params": ..., "peak_rss_mib": ..., "blas": "...",
   "python": "...", "attention": "sdpa" | "softmax", "losses": [l1, l2, l3] (of the last step)}

  torch_train_peer.py --config '{"n_layer": 4, "n_embd": 256, "n_head": 4, "vocab": 50257, "n_positions": 1024}'
      [--threads 2] [--steps 3] [--batch 4] [--seq 256] [--context 192] [--lambda 0.5] [--spec FILE]

--config is JSON text or a file holding it (layer_norm_epsilon optional, default 1e-5). --spec is a
JSON file {"ids": [B*T ints], "l1_mask": [B*T], "l2_mask": [B*T]} (row-major [B, T]), so both sides
train on the same batch; without it the ids are drawn here (seeded) and the masks built from
--context as bench/training.ts builds them: in each row, targets at t + 1 < context are L1, the rest
up to T - 1 are L2.
"""
import argparse
import json
import math
import os
import resource
import sys
import time

try:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError:
    print('torch_train_peer.py: torch is not installed for this python (Debian: apt install python3-torch libopenblas0-openmp)', file=sys.stderr)
    sys.exit(2)

from torch_peer import loaded_blas  # the inference peer beside this file (torch is there by now)

HAS_SDPA = hasattr(F, 'scaled_dot_product_attention')


class Block(nn.Module):
    def __init__(self, E, H, P, eps):
        super().__init__()
        self.H = H
        self.ln_1 = nn.LayerNorm(E, eps=eps)
        self.c_attn = nn.Linear(E, 3 * E)
        self.c_proj = nn.Linear(E, E)
        self.ln_2 = nn.LayerNorm(E, eps=eps)
        self.c_fc = nn.Linear(E, 4 * E)
        self.mlp_proj = nn.Linear(4 * E, E)
        if not HAS_SDPA:
            self.register_buffer('causal', torch.ones(P, P, dtype=torch.bool).triu(1), persistent=False)

    def attention(self, x):
        B, T, E = x.shape
        H = self.H
        D = E // H
        q, k, v = self.c_attn(x).split(E, dim=2)
        q = q.view(B, T, H, D).transpose(1, 2)  # [B, H, T, D]
        k = k.view(B, T, H, D).transpose(1, 2)
        v = v.view(B, T, H, D).transpose(1, 2)
        if HAS_SDPA:
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        else:
            att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(D))
            att = att.masked_fill(self.causal[:T, :T], float('-inf'))
            y = F.softmax(att, dim=-1) @ v
        return self.c_proj(y.transpose(1, 2).contiguous().view(B, T, E))

    def forward(self, x):
        x = x + self.attention(self.ln_1(x))
        return x + self.mlp_proj(F.gelu(self.c_fc(self.ln_2(x)), approximate='tanh'))


class GPT2(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        V, P, E = cfg['vocab'], cfg['n_positions'], cfg['n_embd']
        eps = cfg.get('layer_norm_epsilon', 1e-5)
        self.wte = nn.Embedding(V, E)
        self.wpe = nn.Embedding(P, E)
        self.h = nn.ModuleList(Block(E, cfg['n_head'], P, eps) for _ in range(cfg['n_layer']))
        self.ln_f = nn.LayerNorm(E, eps=eps)
        # GPT-2's initialisation (as nanoGPT): N(0, 0.02), residual projections scaled by 1/sqrt(2L).
        for name, p in self.named_parameters():
            if name.endswith('bias'):
                nn.init.zeros_(p)
            elif 'ln_' in name:
                nn.init.ones_(p)
            else:
                std = 0.02 / math.sqrt(2 * cfg['n_layer']) if name.endswith(('c_proj.weight', 'mlp_proj.weight')) else 0.02
                nn.init.normal_(p, mean=0.0, std=std)

    def forward(self, ids):
        T = ids.shape[1]
        x = self.wte(ids) + self.wpe(torch.arange(T, device=ids.device))
        for block in self.h:
            x = block(x)
        return F.linear(self.ln_f(x), self.wte.weight)  # tied head: [B, T, V]


def losses(logits, targets, w1, w2, lam):
    """L1, L2, L3 as our training graph defines them (weights already divided by max(sum(mask), 1))."""
    V = logits.shape[-1]
    nll = F.cross_entropy(logits.view(-1, V), targets.view(-1), reduction='none')
    l1 = (nll * w1).sum()
    l2 = (nll * w2).sum()
    return l1, l2, l2 + lam * l1


def batch(a):
    B, T = a.batch, a.seq
    if a.spec:
        with open(a.spec) as f:
            spec = json.load(f)
        for key in ('ids', 'l1_mask', 'l2_mask'):
            if len(spec[key]) != B * T:
                raise ValueError(f'{a.spec}: {key} has {len(spec[key])} values for {B} x {T}')
        ids = torch.tensor(spec['ids'], dtype=torch.long).view(B, T)
        m1 = torch.tensor(spec['l1_mask'], dtype=torch.float32).view(B, T)
        m2 = torch.tensor(spec['l2_mask'], dtype=torch.float32).view(B, T)
    else:
        g = torch.Generator().manual_seed(12345)
        ids = torch.randint(0, 50000, (B, T), generator=g)
        t = torch.arange(T)
        m1 = ((t + 1 < a.context) & (t < T - 1)).float().expand(B, T).contiguous()
        m2 = ((t + 1 >= a.context) & (t < T - 1)).float().expand(B, T).contiguous()
    has_target = (torch.arange(T) < T - 1).float()
    weights = lambda m: (m * has_target) / torch.clamp((m * has_target).sum(), min=1.0)
    # The last position has no next token: a dummy target 0 with weight 0, as our graph pads it.
    targets = torch.cat([ids[:, 1:], torch.zeros(B, 1, dtype=torch.long)], dim=1)
    return ids, targets, weights(m1).view(-1), weights(m2).view(-1)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--config', required=True, help='JSON text or a file: n_layer, n_embd, n_head, vocab, n_positions')
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--steps', type=int, default=3, help='timed steps, after one warm-up step')
    ap.add_argument('--batch', type=int, default=4)
    ap.add_argument('--seq', type=int, default=256)
    ap.add_argument('--context', type=int, default=192, help='tokens of each row that are context (L1 targets)')
    ap.add_argument('--lambda', dest='lam', type=float, default=0.5)
    ap.add_argument('--lr', type=float, default=1e-4)
    ap.add_argument('--spec', help='JSON file with the batch (see above)')
    a = ap.parse_args()

    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    cfg = json.loads(a.config) if a.config.lstrip().startswith('{') else json.load(open(a.config))
    if cfg['n_embd'] % cfg['n_head']:
        raise ValueError(f'n_embd {cfg["n_embd"]} is not a multiple of n_head {cfg["n_head"]}')
    if a.seq > cfg['n_positions']:
        raise ValueError(f'--seq {a.seq} is longer than n_positions {cfg["n_positions"]}')
    model = GPT2(cfg)
    model.train()
    params = list(model.parameters())  # wte once: the head shares it
    decay = [p for n, p in model.named_parameters() if p.dim() == 2 and not n.startswith(('wte.', 'wpe.'))]
    keep = [p for n, p in model.named_parameters() if not (p.dim() == 2 and not n.startswith(('wte.', 'wpe.')))]
    opt = torch.optim.AdamW([{'params': decay, 'weight_decay': 0.01}, {'params': keep, 'weight_decay': 0.0}], lr=a.lr, weight_decay=0.01)
    ids, targets, w1, w2 = batch(a)

    step_ms = []
    last = None
    for i in range(a.steps + 1):
        t = time.perf_counter()
        l1, l2, l3 = losses(model(ids), targets, w1, w2, a.lam)
        l3.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        if i > 0:  # the first step pays allocation and warm-up, as on our side
            step_ms.append((time.perf_counter() - t) * 1000)
        last = [float(l1), float(l2), float(l3)]

    print(json.dumps({
        'step_ms': step_ms,
        'threads': torch.get_num_threads(),
        'torch': torch.__version__,
        'python': sys.version.split()[0],
        'params': sum(p.numel() for p in params),
        'peak_rss_mib': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        'blas': loaded_blas(),
        'attention': 'sdpa' if HAS_SDPA else 'softmax',
        'losses': last,
    }), flush=True)


if __name__ == '__main__':
    main()
