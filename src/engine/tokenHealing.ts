/**
 * Token healing. A prompt cut where the user's cursor is usually ends inside what would be one token
 * of the model's text: after `return ` GPT-2's tokenizer ends the prompt with a lone space token,
 * which in training text almost only appears inside runs of indentation, so the model continues with
 * more spaces (the embedded model did exactly that at every such cut). Healing drops the prompt's
 * last token and lets the first generated token be any token that starts with the dropped one's
 * bytes (` self` after the space, `returned` after `return`); the dropped bytes are then not shown
 * again. Guidance calls this token healing; code-completion tools do the same.
 */
import type { TokenBytes } from './generator';

export interface Healing {
  /** The prompt without its last token. */
  prompt: number[];
  /** Bytes the first generated token must start with (and which are not part of the completion). */
  prefix: Uint8Array;
  /** Token ids whose bytes start with `prefix` (the dropped token among them). */
  allowed: Int32Array;
}

/** Every token's bytes, computed once per tokenizer. */
const vocabBytes = new WeakMap<TokenBytes, Uint8Array[]>();
/** Allowed continuations of a dropped token, per tokenizer and token id. */
const allowedCache = new WeakMap<TokenBytes, Map<number, Int32Array>>();

function bytesOfVocab(tokenizer: TokenBytes, vocabSize: number): Uint8Array[] {
  let table = vocabBytes.get(tokenizer);
  if (table === undefined || table.length !== vocabSize) {
    table = Array.from({ length: vocabSize }, (_, id) => tokenizer.decodeBytes([id]));
    vocabBytes.set(tokenizer, table);
  }
  return table;
}

function startsWith(bytes: Uint8Array, prefix: Uint8Array): boolean {
  if (bytes.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (bytes[i] !== prefix[i]) return false;
  return true;
}

/** Spaces and tabs only (not line breaks). */
function isBlank(bytes: Uint8Array): boolean {
  for (const b of bytes) if (b !== 0x20 && b !== 0x09) return false;
  return true;
}

/**
 * Token ids whose bytes begin with token `last`'s bytes, `last` included — except that after a
 * space or tab, tokens of spaces and tabs only are left out: the user typed that whitespace (the
 * indentation of a new line, the space after `return`), and a weak model otherwise continues it
 * with more (the embedded model answered an empty block with 63 spaces).
 */
export function tokensExtending(tokenizer: TokenBytes, vocabSize: number, last: number): Int32Array {
  let perTokenizer = allowedCache.get(tokenizer);
  if (perTokenizer === undefined) allowedCache.set(tokenizer, (perTokenizer = new Map()));
  let allowed = perTokenizer.get(last);
  if (allowed === undefined) {
    const table = bytesOfVocab(tokenizer, vocabSize);
    const prefix = table[last];
    const blankPrefix = isBlank(prefix);
    const ids: number[] = [];
    for (let id = 0; id < vocabSize; id++) if (startsWith(table[id], prefix) && !(blankPrefix && isBlank(table[id]))) ids.push(id);
    allowed = Int32Array.from(ids);
    perTokenizer.set(last, allowed);
  }
  return allowed;
}

/**
 * The healed prompt, or null when healing cannot change the outcome: a prompt of one token (nothing
 * would be left to condition on), a last token that no other token extends, or one that is not a
 * whole UTF-8 text (half a character: its continuation bytes are not a prefix of any token's start).
 */
export function healPrompt(prompt: readonly number[], tokenizer: TokenBytes, vocabSize: number): Healing | null {
  if (prompt.length < 2) return null;
  const last = prompt[prompt.length - 1];
  if (!(last >= 0 && last < vocabSize)) return null;
  const prefix = tokenizer.decodeBytes([last]);
  if (prefix.length === 0 || !isWholeUtf8(prefix)) return null;
  const allowed = tokensExtending(tokenizer, vocabSize, last);
  if (allowed.length < 2) return null;
  return { prompt: prompt.slice(0, -1), prefix, allowed };
}

/** Logits with every token outside `allowed` at −∞ (a copy: the model's buffer is left alone). */
export function restrictLogits(row: Float32Array, allowed: Int32Array): Float32Array {
  const out = new Float32Array(row.length).fill(-Infinity);
  for (const id of allowed) out[id] = row[id];
  return out;
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

function isWholeUtf8(bytes: Uint8Array): boolean {
  try {
    strictUtf8.decode(bytes);
    return true;
  } catch {
    return false;
  }
}
