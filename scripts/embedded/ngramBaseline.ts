/**
 * The baseline the embedded model is measured against: a token trigram model with interpolated
 * Kneser–Ney smoothing (Chen & Goodman's discounts D = n1 / (n1 + 2·n2) per order), trained on the
 * same training token stream as the model. KN interpolates every order down to a uniform
 * distribution over all 50257 ids, so every token gets a proper, non-zero probability and its
 * held-out cross-entropy (nats/token) is directly comparable to the model's loss on the same targets.
 *
 * The highest order in use reads raw counts, lower orders continuation counts (how many distinct
 * tokens precede a bigram or token), as KN prescribes. Greedy decoding needs no scan of the
 * vocabulary: a token never seen after the history gets the backoff weight times its lower-order
 * probability, so the argmax is among the seen followers of (u, v), those of v, or the unigram argmax.
 */
import type { Completer } from '../../src/training/evaluate';
import type { TokenExample } from '../../src/training/objective';
import { EOT, type Tokenizer } from '../../src/engine/tokenizer';

/** Counts keyed by packed ids: (v, w) → v·V + w; (u, v, w) → (u·V + v)·V + w, exact below 2^53. */
class Counter {
  readonly map = new Map<number, number>();
  add(key: number, by = 1): void {
    this.map.set(key, (this.map.get(key) ?? 0) + by);
  }
  get(key: number): number {
    return this.map.get(key) ?? 0;
  }
}

/** Chen & Goodman's estimate of the absolute discount from counts of counts; 0.75 when undefined. */
function discount(counts: Iterable<number>): number {
  let n1 = 0;
  let n2 = 0;
  for (const c of counts) {
    if (c === 1) n1++;
    else if (c === 2) n2++;
  }
  return n1 > 0 && n2 > 0 ? n1 / (n1 + 2 * n2) : 0.75;
}

export interface NgramStats {
  tokens: number;
  trigramTypes: number;
  bigramTypes: number;
  discounts: { d1: number; d2: number; d2raw: number; d3: number };
}

export class TrigramKN {
  private readonly V: number;
  // Trigram layer (raw counts): c(uvw), c(uv·), N1+(uv·), and the followers of uv.
  private readonly c3 = new Counter();
  private readonly h3count = new Counter();
  private readonly h3types = new Counter();
  private readonly followers3 = new Map<number, number[]>();
  // Bigram layer, raw (when the history is one token long): c(vw), c(v·), N1+(v·).
  private readonly c2 = new Counter();
  private readonly h2count: Float64Array;
  private readonly h2types: Float64Array;
  private readonly followers2 = new Map<number, number[]>();
  // Bigram layer, continuation counts: N1+(·vw), Σ_w N1+(·vw), |{w: N1+(·vw) > 0}|.
  private readonly cont2 = new Counter();
  private readonly cont2ctx: Float64Array;
  private readonly cont2types: Float64Array;
  // Unigram layer, continuation counts: N1+(·w) over bigram types.
  private readonly cont1: Float64Array;
  private cont1total = 0;
  private cont1types = 0;
  private bestUnigram = 0;
  private d1 = 0.75;
  private d2 = 0.75;
  private d2raw = 0.75;
  private d3 = 0.75;
  private tokens = 0;
  private readonly argmax2 = new Map<number, number>();
  private readonly argmax3 = new Map<number, number>();

  constructor(vocabSize: number) {
    this.V = vocabSize;
    this.h2count = new Float64Array(vocabSize);
    this.h2types = new Float64Array(vocabSize);
    this.cont2ctx = new Float64Array(vocabSize);
    this.cont2types = new Float64Array(vocabSize);
    this.cont1 = new Float64Array(vocabSize);
  }

  /** Counts one contiguous token stream (call for each; n-grams do not cross calls). */
  addStream(ids: ArrayLike<number>): void {
    const V = this.V;
    for (let i = 0; i < ids.length; i++) {
      this.tokens++;
      if (i >= 1) this.c2.add(ids[i - 1] * V + ids[i]);
      if (i >= 2) this.c3.add((ids[i - 2] * V + ids[i - 1]) * V + ids[i]);
    }
  }

  /** Derives the histories, continuation counts and discounts; call once after the last addStream. */
  finish(): this {
    const V = this.V;
    const push = (m: Map<number, number[]>, k: number, w: number) => {
      const list = m.get(k);
      if (list) list.push(w);
      else m.set(k, [w]);
    };
    for (const [key, c] of this.c3.map) {
      const w = key % V;
      const uv = (key - w) / V;
      const v = uv % V;
      this.h3count.add(uv, c);
      this.h3types.add(uv);
      push(this.followers3, uv, w);
      this.cont2.add(v * V + w);
    }
    for (const [key, c] of this.c2.map) {
      const w = key % V;
      const v = (key - w) / V;
      this.h2count[v] += c;
      this.h2types[v]++;
      push(this.followers2, v, w);
      this.cont1[w]++;
      this.cont1total++;
    }
    for (const [key, n] of this.cont2.map) {
      const w = key % V;
      const v = (key - w) / V;
      this.cont2ctx[v] += n;
      this.cont2types[v]++;
    }
    for (let w = 0; w < V; w++) {
      if (this.cont1[w] > 0) this.cont1types++;
      if (this.cont1[w] > this.cont1[this.bestUnigram]) this.bestUnigram = w;
    }
    this.d3 = discount(this.c3.map.values());
    this.d2raw = discount(this.c2.map.values());
    this.d2 = discount(this.cont2.map.values());
    this.d1 = discount(this.cont1);
    return this;
  }

  stats(): NgramStats {
    return {
      tokens: this.tokens,
      trigramTypes: this.c3.map.size,
      bigramTypes: this.c2.map.size,
      discounts: { d1: this.d1, d2: this.d2, d2raw: this.d2raw, d3: this.d3 },
    };
  }

  private p1(w: number): number {
    const T = this.cont1total;
    if (T === 0) return 1 / this.V;
    return Math.max(this.cont1[w] - this.d1, 0) / T + ((this.d1 * this.cont1types) / T) * (1 / this.V);
  }

  /** P(w | v) as a lower order (continuation counts). */
  private p2cont(v: number, w: number): number {
    const n = this.cont2ctx[v];
    if (n === 0) return this.p1(w);
    return Math.max(this.cont2.get(v * this.V + w) - this.d2, 0) / n + ((this.d2 * this.cont2types[v]) / n) * this.p1(w);
  }

  /** P(w | v) as the highest order (raw counts). */
  private p2raw(v: number, w: number): number {
    const n = this.h2count[v];
    if (n === 0) return this.p1(w);
    return Math.max(this.c2.get(v * this.V + w) - this.d2raw, 0) / n + ((this.d2raw * this.h2types[v]) / n) * this.p1(w);
  }

  private p3(u: number, v: number, w: number): number {
    const uv = u * this.V + v;
    const n = this.h3count.get(uv);
    if (n === 0) return this.p2cont(v, w);
    return Math.max(this.c3.get(uv * this.V + w) - this.d3, 0) / n + ((this.d3 * this.h3types.get(uv)) / n) * this.p2cont(v, w);
  }

  /** P(w | the last two tokens of `context`); a shorter context uses the orders it has. */
  prob(context: ArrayLike<number>, w: number): number {
    const n = context.length;
    if (n >= 2) return this.p3(context[n - 2], context[n - 1], w);
    if (n === 1) return this.p2raw(context[0], w);
    return this.p1(w);
  }

  /** The most probable next token (ties: the lowest id). Depends on the last two tokens only, so it is memoised. */
  argmax(context: ArrayLike<number>): number {
    const n = context.length;
    if (n === 0) return this.bestUnigram;
    const v = context[n - 1];
    if (n === 1) return this.best(this.followers2.get(v), this.bestUnigram, (w) => this.p2raw(v, w));
    const uv = context[n - 2] * this.V + v;
    let best = this.argmax3.get(uv);
    if (best === undefined) {
      // Outside the followers of uv, P(w | uv) is a constant times P(w | v): its best is best2(v).
      best = this.best(this.followers3.get(uv), this.best2(v), (w) => this.p3(context[n - 2], v, w));
      this.argmax3.set(uv, best);
    }
    return best;
  }

  /** argmax_w P(w | v) as a lower order: among v's followers, or the unigram argmax. */
  private best2(v: number): number {
    let best = this.argmax2.get(v);
    if (best === undefined) {
      best = this.best(this.followers2.get(v), this.bestUnigram, (w) => this.p2cont(v, w));
      this.argmax2.set(v, best);
    }
    return best;
  }

  private best(followers: readonly number[] | undefined, fallback: number, p: (w: number) => number): number {
    let best = fallback;
    let bestP = p(fallback);
    for (const w of followers ?? []) {
      const q = p(w);
      if (q > bestP || (q === bestP && w < best)) {
        best = w;
        bestP = q;
      }
    }
    return best;
  }

  /** Σ_w P(w | context) over the whole vocabulary: 1 up to rounding for a proper model. */
  totalProbability(context: ArrayLike<number>): number {
    let s = 0;
    for (let w = 0; w < this.V; w++) s += this.prob(context, w);
    return s;
  }
}

/** A trigram model of the training streams (each a file as the model reads it: EOT, then its tokens). */
export function trainTrigram(streams: Iterable<ArrayLike<number>>, vocabSize: number): TrigramKN {
  const m = new TrigramKN(vocabSize);
  for (const s of streams) m.addStream(s);
  m.finish();
  // Cheap guard against a smoothing bug: a few histories (seen, unseen, short) must sum to 1.
  for (const ctx of [[EOT, EOT], [198, 220], [50000, 49999], [13]]) {
    const total = m.totalProbability(ctx);
    if (Math.abs(total - 1) > 1e-6) throw new Error(`trigram: probabilities after [${ctx}] sum to ${total}, not 1`);
  }
  return m;
}

/**
 * Cross-entropy (nats/token) over exactly the targets the model's held-out loss covers: in each
 * window (context ++ continuation), every continuation token given the tokens before it in the window.
 */
export function crossEntropy(m: TrigramKN, windows: readonly TokenExample[]): { nats: number; targets: number } {
  let sum = 0;
  let targets = 0;
  for (const e of windows) {
    const all = [...e.contextIds, ...e.continuationIds];
    for (let i = e.contextIds.length; i < all.length; i++) {
      sum -= Math.log(m.prob(all.slice(Math.max(0, i - 2), i), all[i]));
      targets++;
    }
  }
  return { nats: targets > 0 ? sum / targets : 0, targets };
}

/**
 * The trigram model as a Completer (evaluate.ts), so next-line exact match is computed by the same
 * code for both models: greedy tokens after the prompt until a line break, end of text or maxTokens.
 */
export function trigramCompleter(m: TrigramKN, tokenizer: Tokenizer): Completer {
  return {
    complete: async (req) => {
      const ids = tokenizer.encode(req.prompt);
      const out: number[] = [];
      let text = '';
      for (let k = 0; k < req.maxTokens; k++) {
        const next = m.argmax([...ids.slice(-2), ...out].slice(-2));
        if (next === EOT) break;
        out.push(next);
        text = tokenizer.decode(out);
        if (req.maxLines === 1 && text.includes('\n')) break;
      }
      const nl = text.indexOf('\n');
      return { candidates: [{ text: req.maxLines === 1 && nl >= 0 ? text.slice(0, nl) : text }] };
    },
  };
}
