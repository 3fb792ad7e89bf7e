/**
 * A cheap fingerprint of a file's content, for memo keys that size and mtime alone get wrong (a
 * file replaced by another of the same size, its mtime kept). Small files are hashed whole; a large
 * one by its head (a safetensors header, which names every tensor's dtype, shape and offsets) and
 * SAMPLE_BLOCKS blocks at offsets drawn from a generator seeded by the size, plus the last block.
 * Not a content hash: two files that differ only between the samples collide. It decides when the
 * real (full) hash must be computed again, so it only has to catch the replacements that happen.
 */
import { createHash } from 'crypto';
import * as fs from 'fs';

/** Files up to this size are hashed whole. */
const WHOLE_FILE_BYTES = 1 << 20;
/** At most this much of a large file's head (its safetensors header, for the model files here). */
const HEAD_BYTES = 1 << 20;
export const SAMPLE_BLOCK_BYTES = 64 * 1024;
export const SAMPLE_BLOCKS = 8;

export function sampleHash(file: string): string {
  const fd = fs.openSync(file, 'r');
  try {
    const size = fs.fstatSync(fd).size;
    const h = createHash('sha256').update(`${size}\n`);
    if (size <= WHOLE_FILE_BYTES) {
      h.update(readAt(fd, 0, size));
      return h.digest('hex');
    }
    // The safetensors header length, when the first 8 bytes are a plausible one.
    const declared = Number(readAt(fd, 0, 8).readBigUInt64LE(0));
    const head = Math.min(size, HEAD_BYTES, declared > 0 && declared + 8 <= size ? declared + 8 : HEAD_BYTES);
    h.update(readAt(fd, 0, head));
    let state = size >>> 0 ^ 0x9e3779b9;
    const span = size - SAMPLE_BLOCK_BYTES;
    for (let i = 0; i < SAMPLE_BLOCKS; i++) {
      state = (state + 0x6d2b79f5) | 0; // mulberry32
      let t = Math.imul(state ^ (state >>> 15), state | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      const unit = ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
      h.update(readAt(fd, Math.floor(unit * span), SAMPLE_BLOCK_BYTES));
    }
    h.update(readAt(fd, span, SAMPLE_BLOCK_BYTES));
    return h.digest('hex');
  } finally {
    fs.closeSync(fd);
  }
}

function readAt(fd: number, position: number, length: number): Buffer {
  const buf = Buffer.alloc(length);
  let done = 0;
  while (done < length) {
    const n = fs.readSync(fd, buf, done, length - done, position + done);
    if (n === 0) break; // the file shrank while read: what was read still fingerprints it
    done += n;
  }
  return buf.subarray(0, done);
}
