/**
 * Deterministic per-item randomness from a seed and a name (a path, a purpose): the same item gets
 * the same value whatever else is in the folder, so adding a file does not reshuffle the others.
 */
import { createHash } from 'crypto';

/** A uniform 32-bit unsigned integer from the parts (SHA-256: stable across platforms and versions). */
export function hashToUint32(...parts: (string | number)[]): number {
  const digest = createHash('sha256').update(parts.map(String).join('\0')).digest();
  return digest.readUInt32BE(0);
}

/** A uniform number in [0, 1) from the parts. */
export function hashToUnit(...parts: (string | number)[]): number {
  return hashToUint32(...parts) / 4294967296;
}
