import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { UserError } from '../../src/engine/errors';
import {
  bf16ToF32, decodeBF16, decodeF16, encodeBF16, encodeF16, f16ToF32, f32ToBf16, f32ToF16,
} from '../../src/engine/halfFloat';
import { Rng } from '../../src/engine/random';
import { duplicateTopLevelKey, openSafetensors, writeSafetensors, type TensorToWrite } from '../../src/engine/safetensors';
import { execFileSync } from 'child_process';
import * as net from 'net';
import { useTmpDir } from '../helpers/tmpdir';

// The fuzz test wraps the real module's readSync; the reader sees it through its live import.
import fsModule = require('fs');

describe('halfFloat', () => {
  it('encodes known fp16 values, rounding to nearest even', () => {
    const cases: [number, number][] = [
      [0, 0x0000], [-0, 0x8000], [1, 0x3c00], [-2, 0xc000], [0.5, 0x3800], [65504, 0x7bff],
      [65519, 0x7bff], [65520, 0x7c00], [1e6, 0x7c00], [-1e6, 0xfc00], [Infinity, 0x7c00], [-Infinity, 0xfc00],
      [2 ** -14, 0x0400], [2 ** -24, 0x0001], [1023 * 2 ** -24, 0x03ff], [2 ** -25, 0x0000], [1.5 * 2 ** -25, 0x0001],
      [3 * 2 ** -25, 0x0002], [1e-10, 0x0000], [1 + 2 ** -11, 0x3c00], [1 + 3 * 2 ** -11, 0x3c02],
      [1 + 2 ** -11 + 2 ** -20, 0x3c01], [2 ** -14 - 2 ** -25, 0x0400],
    ];
    for (const [x, h] of cases) assert.equal(f32ToF16(x), h, `f32ToF16(${x})`);
    assert.equal(f32ToF16(NaN) & 0x7c00, 0x7c00);
    assert.notEqual(f32ToF16(NaN) & 0x3ff, 0);
    assert.equal(encodeF16(new Float32Array(Uint32Array.of(0x7f800001).buffer))[0], 0x7e00); // low-bit payload: still NaN
  });

  it('decodes every fp16 value, subnormals, infinities and NaN included, and re-encodes it exactly', () => {
    assert.equal(f16ToF32(0x0001), 2 ** -24);
    assert.equal(f16ToF32(0x03ff), 1023 * 2 ** -24);
    assert.equal(f16ToF32(0x7c00), Infinity);
    assert.equal(f16ToF32(0xfc00), -Infinity);
    assert.ok(Number.isNaN(f16ToF32(0x7e00)));
    assert.ok(Object.is(f16ToF32(0x8000), -0));
    const all = new Uint16Array(65536).map((_, i) => i);
    const decoded = decodeF16(all);
    const reencoded = encodeF16(decoded);
    for (let h = 0; h < 65536; h++) {
      assert.equal(reencoded[h], h, `fp16 0x${h.toString(16)}`);
      assert.ok(Object.is(decoded[h], f16ToF32(h)) || (Number.isNaN(decoded[h]) && Number.isNaN(f16ToF32(h))));
    }
  });

  it('picks the nearest fp16 (ties to even) for random floats in range', () => {
    const rng = new Rng(3);
    const table = decodeF16(new Uint16Array(65536).map((_, i) => i));
    for (let i = 0; i < 20000; i++) {
      const x = Math.fround((rng.next() * 2 - 1) * 2 ** (rng.next() * 44 - 28));
      const h = f32ToF16(x);
      const err = Math.abs(table[h] - x);
      for (const nb of [h - 1, h + 1]) {
        if (nb < 0 || (nb & 0x7fff) >= 0x7c00 || (nb & 0x8000) !== (h & 0x8000)) continue;
        const e2 = Math.abs(table[nb] - x);
        assert.ok(err < e2 || (err === e2 && (h & 1) === 0), `x=${x} -> 0x${h.toString(16)}`);
      }
    }
  });

  it('converts bf16 both ways with round to nearest even, NaN kept', () => {
    assert.equal(f32ToBf16(1), 0x3f80);
    assert.equal(f32ToBf16(-2), 0xc000);
    assert.equal(f32ToBf16(Infinity), 0x7f80);
    assert.equal(bf16ToF32(0x3f80), 1);
    assert.equal(f32ToBf16(1 + 2 ** -8), 0x3f80); // tie, even stays
    assert.equal(f32ToBf16(1 + 3 * 2 ** -8), 0x3f82); // tie, odd rounds up
    assert.equal(f32ToBf16(1 + 2 ** -8 + 2 ** -20), 0x3f81);
    assert.equal(f32ToBf16(3.3895313892515355e38), 0x7f7f); // max finite bf16 stays finite
    assert.ok(Number.isNaN(bf16ToF32(f32ToBf16(NaN))));
    assert.equal(f32ToBf16(1e-40) !== 0, true); // fp32 subnormals survive as bf16 subnormals
    const all = new Uint16Array(65536).map((_, i) => i);
    const decoded = decodeBF16(all);
    const back = encodeBF16(decoded);
    for (let b = 0; b < 65536; b++) {
      const isNaN = (b & 0x7f80) === 0x7f80 && (b & 0x7f) !== 0;
      if (isNaN) assert.ok(Number.isNaN(decoded[b]));
      else assert.equal(back[b], b, `bf16 0x${b.toString(16)}`);
      assert.equal(new Uint32Array(decoded.buffer)[b] >>> 16, b);
    }
  });

  it('bulk and scalar conversions agree', () => {
    const rng = new Rng(9);
    const x = new Float32Array(5000).map(() => rng.normal() * 100);
    x[0] = NaN; x[1] = Infinity; x[2] = 1e-7; x[3] = -0;
    const h = encodeF16(x);
    const b = encodeBF16(x);
    for (let i = 0; i < x.length; i++) {
      assert.equal(h[i], f32ToF16(x[i]));
      assert.equal(b[i], f32ToBf16(x[i]));
    }
  });
});

function sample(n: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  return new Float32Array(n).map(() => rng.normal());
}

/** A hand-made file: 8-byte length, header text, data bytes. */
function rawFile(file: string, header: unknown, data: Uint8Array = new Uint8Array(0), headerLength?: bigint): void {
  const text = Buffer.isBuffer(header) ? header : Buffer.from(typeof header === 'string' ? header : JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(headerLength ?? BigInt(text.length));
  fs.writeFileSync(file, Buffer.concat([len, text, data]));
}

function assertUserError(fn: () => unknown, re: RegExp, file: string): UserError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof UserError, `expected a UserError, got ${String(e)}`);
    assert.match(e.message, re);
    assert.ok(!/[\r\n]/.test(e.message), `message is not one line: ${JSON.stringify(e.message)}`);
    assert.ok(e.message.includes(file), `message does not name the file: ${e.message}`);
    return e;
  }
  assert.fail(`expected a UserError matching ${re}`);
}

describe('safetensors', () => {
  const tmp = useTmpDir();

  it('round-trips F32 exactly, F16 and BF16 within their precision, with metadata', () => {
    const file = path.join(tmp(), 'm.safetensors');
    const a = sample(12, 1);
    const b = sample(40, 2).map((v) => v * 1000);
    const c = sample(7, 3);
    writeSafetensors(file, [
      { name: 'a', dtype: 'F32', shape: [3, 4], data: a },
      { name: 'b.weight', dtype: 'F16', shape: [2, 4, 5], data: () => b },
      { name: 'c', dtype: 'BF16', shape: [7], data: c },
      { name: 'scalar', dtype: 'F32', shape: [], data: Float32Array.of(-1e4) },
      { name: 'empty', dtype: 'F16', shape: [0, 3], data: new Float32Array(0) },
    ], { format: 'pt', note: 'hi' });
    assert.ok(!fs.existsSync(file + '.tmp'));

    const bytes = fs.readFileSync(file);
    const n = Number(bytes.readBigUInt64LE(0));
    assert.equal((8 + n) % 8, 0, 'data region is 8-byte aligned');
    assert.match(bytes.subarray(8, 8 + n).toString(), /^\{.*\} *$/);

    const st = openSafetensors(file);
    try {
      assert.deepEqual(st.metadata, { format: 'pt', note: 'hi' });
      assert.deepEqual([...st.tensors.keys()], ['a', 'b.weight', 'c', 'scalar', 'empty']);
      assert.deepEqual(st.tensors.get('a'), { dtype: 'F32', shape: [3, 4], byteOffset: 8 + n, byteLength: 48 });
      assert.deepEqual(st.readFloat32('a'), a);
      assert.deepEqual(st.readRaw('a'), new Uint8Array(a.buffer));
      const b2 = st.readFloat32('b.weight');
      for (let i = 0; i < b.length; i++) assert.ok(Math.abs(b2[i] - b[i]) <= Math.abs(b[i]) * 2 ** -11, `F16 ${b[i]} -> ${b2[i]}`);
      const c2 = st.readFloat32('c');
      for (let i = 0; i < c.length; i++) assert.ok(Math.abs(c2[i] - c[i]) <= Math.abs(c[i]) * 2 ** -8, `BF16 ${c[i]} -> ${c2[i]}`);
      assert.deepEqual(st.readFloat32('scalar'), Float32Array.of(-1e4));
      assert.equal(st.readFloat32('empty').length, 0);
      assert.deepEqual(st.readFloat32Slice('a', 5, 3), a.subarray(5, 8));
      assert.deepEqual(st.readFloat32Slice('b.weight', 39, 1), b2.subarray(39));
    } finally {
      st.close();
    }
  });

  it('reads F16/BF16 tensors larger than one conversion chunk', () => {
    const file = path.join(tmp(), 'big.safetensors');
    const x = sample((1 << 20) + 123, 4);
    writeSafetensors(file, [{ name: 'x', dtype: 'F16', shape: [x.length], data: x }, { name: 'y', dtype: 'BF16', shape: [x.length], data: x }]);
    const st = openSafetensors(file);
    assert.deepEqual(st.readFloat32('x'), decodeF16(encodeF16(x)));
    assert.deepEqual(st.readFloat32('y'), decodeBF16(encodeBF16(x)));
    st.close();
  });

  it('reads a file laid out by hand as the spec describes', () => {
    const file = path.join(tmp(), 'spec.safetensors');
    const data = new Uint8Array(Float32Array.of(1, 2, 3, 4).buffer);
    // Entries out of file order, no metadata, no padding: all allowed.
    rawFile(file, '{"b":{"dtype":"F32","shape":[1,2],"data_offsets":[8,16]},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}', data);
    const st = openSafetensors(file);
    assert.deepEqual(st.readFloat32('a'), Float32Array.of(1, 2));
    assert.deepEqual(st.readFloat32('b'), Float32Array.of(3, 4));
    assert.deepEqual(st.metadata, {});
    st.close();
  });

  it('leaves neither the file nor a .tmp behind when writing fails', () => {
    const file = path.join(tmp(), 'fail.safetensors');
    const boom = (): Float32Array => {
      throw new Error('boom');
    };
    assert.throws(() => writeSafetensors(file, [
      { name: 'a', dtype: 'F32', shape: [2], data: Float32Array.of(1, 2) },
      { name: 'b', dtype: 'F32', shape: [2], data: boom },
    ]), /boom/);
    assert.deepEqual(fs.readdirSync(tmp()), []);
    assert.throws(() => writeSafetensors(file, [{ name: 'a', dtype: 'F32', shape: [3], data: Float32Array.of(1, 2) }]), /needs 3/);
    assert.deepEqual(fs.readdirSync(tmp()), []);
  });

  describe('refuses malformed files with a one-line UserError naming the file', () => {
    const f32 = (shape: number[], offsets: unknown): unknown => ({ dtype: 'F32', shape, data_offsets: offsets });
    const cases: { title: string; make: (file: string) => void; re: RegExp }[] = [
      { title: 'empty file', make: (f) => fs.writeFileSync(f, ''), re: /0 bytes, shorter than the 8-byte header length/ },
      { title: '5-byte file', make: (f) => fs.writeFileSync(f, 'abcde'), re: /5 bytes, shorter than the 8-byte header length/ },
      { title: 'header length past the end', make: (f) => rawFile(f, { a: f32([1], [0, 4]) }, new Uint8Array(4), 1000n), re: /header length 1000 runs past the end of the file/ },
      { title: 'huge header length', make: (f) => rawFile(f, '{}', undefined, 2n ** 63n), re: /header length 9223372036854775808 is over the 100000000-byte limit/ },
      { title: 'header over 100 MB', make: (f) => rawFile(f, '{}', undefined, 100_000_001n), re: /over the 100000000-byte limit/ },
      { title: 'not JSON', make: (f) => rawFile(f, '{"a": [1, 2,'), re: /header is not valid JSON \(/ },
      { title: 'empty header', make: (f) => rawFile(f, ''), re: /header is not valid JSON/ },
      { title: 'not UTF-8', make: (f) => rawFile(f, Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d])), re: /header is not valid UTF-8/ },
      { title: 'JSON array', make: (f) => rawFile(f, '[1,2]'), re: /header is not a JSON object/ },
      { title: 'entry not an object', make: (f) => rawFile(f, { w: 3 }), re: /tensor "w": header entry is not an object/ },
      { title: 'dtype missing', make: (f) => rawFile(f, { w: { shape: [1], data_offsets: [0, 4] } }, new Uint8Array(4)), re: /tensor "w": dtype is missing/ },
      { title: 'unknown dtype', make: (f) => rawFile(f, { w: { dtype: 'Q7', shape: [1], data_offsets: [0, 4] } }, new Uint8Array(4)), re: /tensor "w": unknown dtype "Q7"/ },
      { title: 'dtype naming an Object.prototype key', make: (f) => rawFile(f, { w: { dtype: 'constructor', shape: [1], data_offsets: [0, 4] } }, new Uint8Array(4)), re: /unknown dtype "constructor"/ },
      { title: 'negative shape', make: (f) => rawFile(f, { w: f32([-1], [0, 4]) }, new Uint8Array(4)), re: /tensor "w": shape \[-1\] is not a list of non-negative integers/ },
      { title: 'fractional shape', make: (f) => rawFile(f, { w: f32([1.5], [0, 4]) }, new Uint8Array(4)), re: /shape \[1.5\] is not a list/ },
      { title: 'shape missing', make: (f) => rawFile(f, { w: { dtype: 'F32', data_offsets: [0, 4] } }, new Uint8Array(4)), re: /shape missing is not a list/ },
      { title: 'negative offset', make: (f) => rawFile(f, { w: f32([1], [-4, 0]) }, new Uint8Array(4)), re: /data_offsets \[-4,0\] are not two non-negative integers/ },
      { title: 'fractional offset', make: (f) => rawFile(f, { w: f32([1], [0.5, 4.5]) }, new Uint8Array(5)), re: /are not two non-negative integers/ },
      { title: 'three offsets', make: (f) => rawFile(f, { w: f32([1], [0, 4, 8]) }, new Uint8Array(8)), re: /are not two non-negative integers/ },
      { title: 'offsets reversed', make: (f) => rawFile(f, { w: f32([1], [4, 0]) }, new Uint8Array(4)), re: /data_offsets \[4, 0\] end before they begin/ },
      { title: 'overlapping tensors', make: (f) => rawFile(f, { a: f32([2], [0, 8]), b: f32([2], [4, 12]) }, new Uint8Array(12)), re: /tensor "b": data_offsets \[4, 12\] overlap tensor "a" \[0, 8\]/ },
      { title: 'offsets past the data region', make: (f) => rawFile(f, { w: f32([4], [0, 16]) }, new Uint8Array(12)), re: /tensor "w": data_offsets \[0, 16\] leave the data region \(12 bytes; truncated\?\)/ },
      { title: 'byte count not matching the shape', make: (f) => rawFile(f, { w: f32([2, 3], [0, 20]) }, new Uint8Array(20)), re: /tensor "w": shape \[2, 3\] of F32 needs 24 bytes but data_offsets \[0, 20\] hold 20/ },
      { title: 'impossibly large shape', make: (f) => rawFile(f, { w: f32([2 ** 40, 2 ** 40], [0, 4]) }, new Uint8Array(4)), re: /impossibly large/ },
      { title: 'metadata not strings', make: (f) => rawFile(f, { __metadata__: { format: 1 } }), re: /__metadata__ value for "format" is not a string/ },
      { title: 'metadata not an object', make: (f) => rawFile(f, { __metadata__: 'pt' }), re: /__metadata__ is not an object/ },
      { title: 'a tensor name with a newline', make: (f) => rawFile(f, { 'a\nb': { dtype: 'X' } }), re: /tensor "a\\nb": dtype is missing|unknown dtype/ },
      // JSON.parse keeps the last of two equal keys: the file would be read as whichever came last.
      { title: 'a tensor named twice', make: (f) => rawFile(f, `{"w":${JSON.stringify(f32([1], [0, 4]))},"w":${JSON.stringify(f32([1], [4, 8]))}}`, new Uint8Array(8)), re: /header names tensor "w" twice/ },
      { title: 'a tensor named twice, once escaped', make: (f) => rawFile(f, `{"w":${JSON.stringify(f32([1], [0, 4]))},"\\u0077":${JSON.stringify(f32([1], [4, 8]))}}`, new Uint8Array(8)), re: /header names tensor "w" twice/ },
      { title: '__metadata__ twice', make: (f) => rawFile(f, '{"__metadata__":{"a":"1"},"__metadata__":{}}'), re: /header names __metadata__ twice/ },
    ];
    for (const c of cases) {
      it(c.title, () => {
        const file = path.join(tmp(), 'bad.safetensors');
        c.make(file);
        assertUserError(() => openSafetensors(file), c.re, file);
      });
    }

    it('a truncated copy of a valid file', () => {
      const file = path.join(tmp(), 'cut.safetensors');
      writeSafetensors(file, [{ name: 'w', dtype: 'F32', shape: [8], data: sample(8, 5) }]);
      fs.truncateSync(file, fs.statSync(file).size - 1);
      assertUserError(() => openSafetensors(file), /tensor "w": data_offsets \[0, 32\] leave the data region \(31 bytes/, file);
    });

    it('a missing file and a folder', () => {
      const file = path.join(tmp(), 'nope.safetensors');
      assertUserError(() => openSafetensors(file), /cannot open \(no such file\)/, file);
      assertUserError(() => openSafetensors(tmp()), /is a folder|cannot open/, tmp());
    });

    it('a non-float dtype read as weights; raw bytes still readable', () => {
      const file = path.join(tmp(), 'int.safetensors');
      const ids = new BigInt64Array([1n, -2n, 3n]);
      rawFile(file, { ids: { dtype: 'I64', shape: [3], data_offsets: [0, 24] }, m: { dtype: 'U8', shape: [2], data_offsets: [24, 26] } },
        Buffer.concat([Buffer.from(ids.buffer), Buffer.from([7, 9])]));
      const st = openSafetensors(file);
      assertUserError(() => st.readFloat32('ids'), /tensor "ids": dtype I64 is not a floating-point weight type \(expected F32, F16 or BF16\)/, file);
      assertUserError(() => st.readFloat32Slice('m', 0, 1), /tensor "m": dtype U8 is not a floating-point/, file);
      assert.deepEqual(new BigInt64Array(st.readRaw('ids').buffer), ids);
      assert.deepEqual([...st.readRaw('m')], [7, 9]);
      st.close();
    });

    it('a FIFO, a socket, a device and a symbolic link loop: named, never opened for reading', async function () {
      if (process.platform === 'win32') this.skip();
      const fifo = path.join(tmp(), 'fifo.safetensors');
      execFileSync('mkfifo', [fifo]);
      // Opening a FIFO for reading blocks until a writer comes: this would hang, not fail.
      assertUserError(() => openSafetensors(fifo), /: is a FIFO \(named pipe\), not a file; expected a safetensors file$/, fifo);
      const loop = path.join(tmp(), 'loop.safetensors');
      fs.symlinkSync(path.basename(loop), loop);
      assertUserError(() => openSafetensors(loop), /: is a symbolic link loop/, loop);
      assertUserError(() => openSafetensors('/dev/null'), /: is a device, not a file/, '/dev/null');
      const sock = path.join(tmp(), 's.safetensors');
      const server = net.createServer().listen(sock);
      await new Promise((r) => server.once('listening', r));
      try {
        assertUserError(() => openSafetensors(sock), /: is a socket, not a file/, sock);
      } finally {
        server.close();
      }
    });

    it('a file that shrinks after it was opened', () => {
      const file = path.join(tmp(), 'shrink.safetensors');
      writeSafetensors(file, [{ name: 'w', dtype: 'F32', shape: [64], data: sample(64, 6) }]);
      const st = openSafetensors(file);
      fs.truncateSync(file, 40);
      assertUserError(() => st.readFloat32('w'), /tensor "w": file ended early/, file);
      st.close();
    });
  });

  describe('fuzz: random corruptions of a valid file', () => {
    /** Wraps fs.readSync to prove no read ever asks for bytes past the end of the file. */
    function withReadBoundsCheck<T>(fn: () => T): { result: T; reads: number } {
      const original = fsModule.readSync;
      let reads = 0;
      const checked = (fd: number, buffer: NodeJS.ArrayBufferView, offset: number, length: number, position: number | bigint | null): number => {
        reads++;
        assert.equal(typeof position, 'number', 'reads go to explicit positions');
        const size = fsModule.fstatSync(fd).size;
        assert.ok((position as number) >= 0 && (position as number) + length <= size, `read [${position}, +${length}) past end ${size}`);
        assert.ok(offset + length <= buffer.byteLength);
        return original(fd, buffer, offset, length, position);
      };
      (fsModule as { readSync: unknown }).readSync = checked;
      try {
        return { result: fn(), reads };
      } finally {
        fsModule.readSync = original;
      }
    }

    const tensors: TensorToWrite[] = [
      { name: 'a', dtype: 'F32', shape: [3, 4], data: sample(12, 11) },
      { name: 'h.0.b', dtype: 'F16', shape: [5], data: sample(5, 12) },
      { name: 'c', dtype: 'BF16', shape: [2, 2], data: sample(4, 13) },
    ];

    function mutate(rng: Rng, valid: Buffer): Buffer {
      const n = Number(valid.readBigUInt64LE(0));
      const int = (k: number): number => Math.floor(rng.next() * k);
      const out = Buffer.from(valid);
      switch (int(7)) {
        case 0: // truncate
          return out.subarray(0, int(out.length));
        case 1: // flip bytes in the header
          for (let k = 1 + int(4); k > 0; k--) out[8 + int(n)] ^= 1 << int(8);
          return out;
        case 2: // flip bytes in the data (or anywhere)
          for (let k = 1 + int(4); k > 0; k--) out[int(out.length)] = int(256);
          return out;
        case 3: { // a random header length
          const choices = [BigInt(int(out.length + 16)), BigInt(n + int(9) - 4), 2n ** 64n - 1n, BigInt(int(2 ** 31)) * BigInt(int(2 ** 31))];
          out.writeBigUInt64LE(choices[int(choices.length)] & (2n ** 64n - 1n));
          return out;
        }
        case 4: { // JSON-ish garbage characters in place
          const alphabet = '{}[]":,0123456789-.eE tfnul\\';
          for (let k = 1 + int(3); k > 0; k--) out[8 + int(n)] = alphabet.charCodeAt(int(alphabet.length));
          return out;
        }
        case 5: { // a structurally random header over the same data
          const dtypes = ['F32', 'F16', 'BF16', 'I64', 'U8', 'BOOL', 'F64', 'XX', 7];
          const num = (): unknown => [0, 4, 8, 12, 16, 24, 40, 48, 56, -1, 1.5, 2 ** 60, '8', null][int(14)];
          const header: Record<string, unknown> = {};
          for (let k = int(4); k > 0; k--) {
            header['t' + k] = rng.next() < 0.1 ? num() : {
              dtype: dtypes[int(dtypes.length)],
              shape: Array.from({ length: int(3) }, () => (rng.next() < 0.8 ? 1 + int(6) : num())),
              data_offsets: rng.next() < 0.9 ? [num(), num()] : [num()],
            };
          }
          if (rng.next() < 0.3) header.__metadata__ = rng.next() < 0.5 ? { format: 'pt' } : { x: num() };
          const text = Buffer.from(JSON.stringify(header) + ' '.repeat(int(8)));
          const len = Buffer.alloc(8);
          len.writeBigUInt64LE(BigInt(text.length));
          return Buffer.concat([len, text, valid.subarray(8 + n, 8 + n + int(valid.length - 8 - n + 8))]);
        }
        default: { // splice: drop or duplicate a random slice of the header
          const at = 8 + int(n);
          const len = int(12);
          return rng.next() < 0.5
            ? Buffer.concat([out.subarray(0, at), out.subarray(at + len)])
            : Buffer.concat([out.subarray(0, at), out.subarray(at, at + len), out.subarray(at)]);
        }
      }
    }

    it('every outcome is a clean parse with in-bounds reads, or a UserError', function () {
      this.timeout(20000);
      const file = path.join(tmp(), 'fuzz.safetensors');
      writeSafetensors(file, tensors, { format: 'pt' });
      const valid = fs.readFileSync(file);
      const rng = new Rng(20240601);
      const outcomes = { parsed: 0, userErrors: 0, reads: 0 };
      for (let i = 0; i < 600; i++) {
        const bytes = mutate(rng, valid);
        fs.writeFileSync(file, bytes);
        const { reads } = withReadBoundsCheck(() => {
          try {
            const st = openSafetensors(file);
            try {
              for (const [name, info] of st.tensors) {
                assert.ok(info.byteOffset >= 8 && info.byteOffset + info.byteLength <= bytes.length, `case ${i}: ${name} out of bounds`);
                assert.equal(st.readRaw(name).length, info.byteLength);
                if (['F32', 'F16', 'BF16'].includes(info.dtype)) {
                  assert.equal(st.readFloat32(name).length, info.shape.reduce((a, b) => a * b, 1));
                } else {
                  assert.throws(() => st.readFloat32(name), UserError);
                }
              }
              outcomes.parsed++;
            } finally {
              st.close();
            }
          } catch (e) {
            if (e instanceof assert.AssertionError) throw e;
            assert.ok(e instanceof UserError, `case ${i}: ${String((e as Error)?.stack ?? e)}`);
            assert.ok(!/[\r\n]/.test(e.message) && e.message.includes(file), `case ${i}: ${e.message}`);
            outcomes.userErrors++;
          }
        });
        outcomes.reads += reads;
      }
      // The wrapper really saw the reader's reads, and the mix exercised both outcomes.
      assert.ok(outcomes.reads > 600, `reads seen: ${outcomes.reads}`);
      if (process.env.FUZZ_VERBOSE) console.log(outcomes);
      assert.ok(outcomes.parsed > 30 && outcomes.userErrors > 200, JSON.stringify(outcomes));
    });
  });
});

describe('duplicateTopLevelKey', () => {
  const cases: [string, string, string | undefined][] = [
    ['no duplicates', '{"a":1,"b":{"a":2},"c":[{"a":3}]}', undefined],
    ['the same key nested is not a duplicate', '{"a":{"x":1},"b":{"x":2}}', undefined],
    ['a duplicate', '{"a":1,"b":2,"a":3}', 'a'],
    ['a duplicate after nesting', '{"a":{"a":{"a":1}},"b":[1,{"b":2}],"b":0}', 'b'],
    ['escapes decoded', '{"\\u0061":1,"a":2}', 'a'],
    ['quotes and braces inside strings', '{"a\\"}{,":"x\\",\\"a\\":{","b":"}","a\\"}{,":0}', 'a"}{,'],
    ['a string value equal to a key', '{"a":"b","b":1}', undefined],
    ['whitespace', ' { "a" : 1 ,\n "a" : 2 } ', 'a'],
    ['empty', '{}', undefined],
  ];
  for (const [title, text, want] of cases) {
    it(title, () => {
      JSON.parse(text); // the scanner's input is always JSON that parsed
      assert.equal(duplicateTopLevelKey(text), want);
    });
  }
});
