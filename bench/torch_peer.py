#!/usr/bin/env python3
"""
A PyTorch peer for the engine benchmark (bench/peer.ts): GPT-2 greedy decoding with a KV cache in
plain torch, on the same Hugging Face-layout checkpoint folder (config.json + model.safetensors).
Matrices are held [out, in] as nn.Linear holds them; a one-token step multiplies through gemv, which
Debian's OpenBLAS runs 3-4x faster than the one-row sgemm of F.linear (--gemm: that path instead).

Needs only torch (Debian: python3-torch, fast only with libopenblas0-openmp). transformers and
safetensors are not used: the safetensors header is parsed here (8-byte little-endian length, JSON,
raw data) and the forward is the GPT-2 one written out (gelu_new, tied head, pre-LayerNorm blocks).

Measures, after torch.set_num_threads(N):
  prefill_ms       one forward over a P-token prompt from an empty cache, last-position logits only
  decode[ctx]      tokens/s of `steps` greedy decode steps after a ctx-token prompt (the first token,
                   which comes from the prefill, is not counted: as the engine's timings.decodeTokens)
and returns the greedy tokens (first from the prefill, then one per step) with the logit margin
between the best and second-best token at each, so the caller can check them against the engine.

  torch_peer.py --model DIR [--threads N] [--spec FILE] [--rounds R]      one JSON line of results
  torch_peer.py --model DIR [--threads N] [--spec FILE] --serve           one JSON line per stdin line:
      `round` (everything), `prefill`, or `decode CTX` (one of the spec's contexts); `quit` ends

A spec file is JSON: {"prefill": [ids], "contexts": {"64": [ids], ...}, "steps": 16}. Without one,
prompts are drawn here from --prefill, --contexts and --steps (seeded).
"""
import argparse
import json
import math
import os
import statistics
import struct
import sys
import time

import torch
import torch.nn.functional as F

DTYPES = {'F32': torch.float32, 'F16': torch.float16, 'BF16': torch.bfloat16}
PREFIX = 'transformer.'


def read_safetensors(path):
    """name -> fp32 tensor. One read of the file; fp32 tensors are views of that buffer."""
    size = os.path.getsize(path)
    buf = bytearray(size)
    with open(path, 'rb') as f:
        view = memoryview(buf)
        got = 0
        while got < size:
            n = f.readinto(view[got:])
            if not n:
                raise ValueError(f'{path}: short read')
            got += n
    (hlen,) = struct.unpack('<Q', bytes(buf[:8]))
    header = json.loads(bytes(buf[8:8 + hlen]).decode('utf-8'))
    base = 8 + hlen
    out = {}
    for name, info in header.items():
        if name == '__metadata__':
            continue
        dtype = DTYPES.get(info['dtype'])
        if dtype is None:
            raise ValueError(f'{path}: {name} has dtype {info["dtype"]}; expected F32, F16 or BF16')
        start, end = info['data_offsets']
        shape = info['shape']
        count = math.prod(shape) if shape else 1
        t = torch.frombuffer(buf, dtype=dtype, count=count, offset=base + start) if count else torch.empty(0, dtype=dtype)
        if end - start != t.numel() * t.element_size():
            raise ValueError(f'{path}: {name}: {end - start} bytes for shape {shape}')
        out[name[len(PREFIX):] if name.startswith(PREFIX) else name] = t.reshape(shape).float()
    return out


class GPT2:
    """GPT-2 (Hugging Face weight layout: Conv1D weights are [in, out]) with a preallocated KV cache."""

    def __init__(self, ckpt_dir, gemv=True):
        with open(os.path.join(ckpt_dir, 'config.json')) as f:
            cfg = json.load(f)
        if cfg.get('model_type', 'gpt2') != 'gpt2':
            raise ValueError(f'model_type {cfg.get("model_type")}: only GPT-2 checkpoints')
        self.V = cfg['vocab_size']
        self.P = cfg.get('n_positions', cfg.get('n_ctx'))
        self.E = cfg['n_embd']
        self.L = cfg['n_layer']
        self.H = cfg['n_head']
        self.D = self.E // self.H
        self.eps = cfg.get('layer_norm_epsilon', 1e-5)
        self.gemv = gemv
        w = read_safetensors(os.path.join(ckpt_dir, 'model.safetensors'))
        # Matrices as nn.Linear holds them, [out, in]; everything is copied out of the file's buffer,
        # which is then freed.
        own = lambda name: w[name].transpose(0, 1).contiguous() if name.endswith('.weight') and w[name].dim() == 2 else w[name].clone()
        self.wte = w['wte.weight'].clone()
        self.wpe = w['wpe.weight'].clone()
        self.layers = []
        for i in range(self.L):
            p = f'h.{i}.'
            self.layers.append({k: own(p + k) for k in (
                'ln_1.weight', 'ln_1.bias', 'attn.c_attn.weight', 'attn.c_attn.bias', 'attn.c_proj.weight',
                'attn.c_proj.bias', 'ln_2.weight', 'ln_2.bias', 'mlp.c_fc.weight', 'mlp.c_fc.bias',
                'mlp.c_proj.weight', 'mlp.c_proj.bias')})
        self.ln_f = (w['ln_f.weight'].clone(), w['ln_f.bias'].clone())
        del w
        self.scale = 1.0 / math.sqrt(self.D)
        self.mask = torch.ones(self.P, self.P, dtype=torch.bool).triu(1)  # True above the diagonal

    def linear(self, x, weight, bias):
        """x [S, in] times weight [out, in]. One row goes through gemv: Debian's OpenBLAS runs a
        one-row sgemm (what F.linear / nn.Linear call) 3-4x slower than sgemv on the same matrix."""
        if self.gemv and x.shape[0] == 1:
            return torch.addmv(bias, weight, x[0]).unsqueeze(0)
        return F.linear(x, weight, bias)

    def new_cache(self):
        """[L, 2, H, P, D] keys and values, and the number of positions filled."""
        return {'kv': torch.empty(self.L, 2, self.H, self.P, self.D), 'len': 0}

    @torch.no_grad()
    def forward(self, ids, cache):
        """Runs `ids` after the cache's positions, appends their K/V in place; last-position logits."""
        S = len(ids)
        t0 = cache['len']
        T = t0 + S
        if T > self.P:
            raise ValueError(f'{T} positions; the model has {self.P}')
        E, H, D = self.E, self.H, self.D
        x = self.wte[torch.tensor(ids)] + self.wpe[t0:T]  # [S, E]
        kv = cache['kv']
        for l, w in enumerate(self.layers):
            h = F.layer_norm(x, (E,), w['ln_1.weight'], w['ln_1.bias'], self.eps)
            qkv = self.linear(h, w['attn.c_attn.weight'], w['attn.c_attn.bias']).view(S, 3, H, D)
            q = qkv[:, 0].transpose(0, 1)  # [H, S, D]
            kv[l, 0, :, t0:T] = qkv[:, 1].transpose(0, 1)
            kv[l, 1, :, t0:T] = qkv[:, 2].transpose(0, 1)
            att = torch.matmul(q * self.scale, kv[l, 0, :, :T].transpose(1, 2))  # [H, S, T]
            if S > 1:
                att.masked_fill_(self.mask[t0:T, :T], float('-inf'))
            att = torch.softmax(att, dim=-1)
            y = torch.matmul(att, kv[l, 1, :, :T]).transpose(0, 1).reshape(S, E)
            x = x + self.linear(y, w['attn.c_proj.weight'], w['attn.c_proj.bias'])
            h = F.layer_norm(x, (E,), w['ln_2.weight'], w['ln_2.bias'], self.eps)
            h = F.gelu(self.linear(h, w['mlp.c_fc.weight'], w['mlp.c_fc.bias']), approximate='tanh')
            x = x + self.linear(h, w['mlp.c_proj.weight'], w['mlp.c_proj.bias'])
        cache['len'] = T
        last = F.layer_norm(x[-1:], (E,), self.ln_f[0], self.ln_f[1], self.eps)
        return torch.mv(self.wte, last[0]) if self.gemv else F.linear(last, self.wte)[0]  # [V]


def pick(logits):
    """Greedy token and its margin over the runner-up (a near-tie explains a disagreement)."""
    top = torch.topk(logits, 2)
    return int(top.indices[0]), float(top.values[0] - top.values[1])


class Peer:
    def __init__(self, model, spec):
        self.m = model
        self.spec = spec
        # Each context keeps its prompt's cache, so a round's decode does not pay that prompt's prefill
        # again (the engine's Generator reuses its cache the same way).
        self.ctx = {}

    def prefill_ms(self):
        cache = self.m.new_cache()
        t = time.perf_counter()
        self.m.forward(self.spec['prefill'], cache)
        return (time.perf_counter() - t) * 1000

    def decode(self, key):
        prompt = self.spec['contexts'][key]
        steps = self.spec['steps']
        if key not in self.ctx:
            cache = self.m.new_cache()
            logits = self.m.forward(prompt, cache)
            self.ctx[key] = (cache, logits)
        cache, logits = self.ctx[key]
        cache['len'] = len(prompt)
        tok, margin = pick(logits)
        tokens, margins = [tok], [margin]
        t = time.perf_counter()
        for _ in range(steps):
            tok, margin = pick(self.m.forward([tok], cache))
            tokens.append(tok)
            margins.append(margin)
        dt = time.perf_counter() - t
        return {'tok_s': steps / dt, 'tokens': tokens, 'margins': margins}

    def round(self):
        out = {'prefill_ms': self.prefill_ms(), 'decode': {}}
        for key in self.spec['contexts']:
            out['decode'][key] = self.decode(key)
        return out


def loaded_blas():
    """The BLAS library this process mapped (Debian's torch is fast only with OpenBLAS)."""
    try:
        with open('/proc/self/maps') as f:
            libs = {line.split()[-1] for line in f if 'blas' in line.lower() and '/' in line}
        return ', '.join(sorted(os.path.basename(os.path.dirname(l)) + '/' + os.path.basename(l) for l in libs)) or 'none'
    except OSError:
        return 'unknown'


def default_spec(prefill, contexts, steps, seed=1):
    g = torch.Generator().manual_seed(seed)
    ids = lambda n: torch.randint(0, 50000, (n,), generator=g).tolist()
    return {'prefill': ids(prefill), 'contexts': {str(c): ids(c) for c in contexts}, 'steps': steps}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--model', required=True, help='checkpoint folder (config.json + model.safetensors)')
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--spec', help='JSON file with the prompts (see above)')
    ap.add_argument('--prefill', type=int, default=256)
    ap.add_argument('--contexts', default='64,1000')
    ap.add_argument('--steps', type=int, default=16)
    ap.add_argument('--rounds', type=int, default=3)
    ap.add_argument('--gemm', action='store_true', help='decode through F.linear (one-row sgemm) as nn.Linear does, not gemv')
    ap.add_argument('--serve', action='store_true', help='one round per line read from stdin, one JSON line each')
    a = ap.parse_args()

    torch.set_num_threads(a.threads)
    if a.spec:
        with open(a.spec) as f:
            spec = json.load(f)
    else:
        spec = default_spec(a.prefill, [int(c) for c in a.contexts.split(',')], a.steps)
    t = time.perf_counter()
    model = GPT2(a.model, gemv=not a.gemm)
    info = {
        'torch': torch.__version__,
        'threads': torch.get_num_threads(),
        'blas': loaded_blas(),
        'load_ms': (time.perf_counter() - t) * 1000,
        'python': sys.version.split()[0],
        'decode_matmul': 'gemv' if model.gemv else 'gemm (F.linear)',
    }
    peer = Peer(model, spec)
    if a.serve:
        print(json.dumps({'ready': True, **info}), flush=True)
        for line in sys.stdin:
            cmd = line.split()
            if not cmd or cmd[0] == 'quit':
                break
            if cmd[0] == 'prefill':
                out = {'prefill_ms': peer.prefill_ms()}
            elif cmd[0] == 'decode':
                out = {'decode': {cmd[1]: peer.decode(cmd[1])}}
            else:
                out = peer.round()
            print(json.dumps(out), flush=True)
        return
    rounds = [peer.round() for _ in range(a.rounds)]
    med = statistics.median
    print(json.dumps({
        **info,
        'prefill_tokens': len(spec['prefill']),
        'prefill_ms': med(r['prefill_ms'] for r in rounds),
        'decode_tok_s': {k: med(r['decode'][k]['tok_s'] for r in rounds) for k in spec['contexts']},
        'tokens': {k: rounds[-1]['decode'][k]['tokens'] for k in spec['contexts']},
        'rounds': len(rounds),
    }))


if __name__ == '__main__':
    main()
