import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { AtomicWriter, describeWriteError, withAtomicWriter, writeFileAtomic, writeJsonAtomic, type AtomicFs } from '../../src/engine/atomicFile';
import { UserError } from '../../src/engine/errors';
import { useTmpDir } from '../helpers/tmpdir';

/** node's fs, except that writes fail once `capacity` bytes have gone out: a disk that fills up. */
function fillingFs(capacity: number, failure: { code?: string; shortWrite?: boolean } = { code: 'ENOSPC' }): AtomicFs & { written: number } {
  const f = {
    written: 0,
    openSync: fs.openSync,
    fsyncSync: fs.fsyncSync,
    closeSync: fs.closeSync,
    renameSync: fs.renameSync,
    rmSync: fs.rmSync,
    writeSync(fd: number, buffer: Uint8Array, offset: number, length: number): number {
      const room = capacity - f.written;
      if (room <= 0) {
        if (failure.shortWrite) return 0;
        throw Object.assign(new Error(`${failure.code}: simulated, write`), { code: failure.code, errno: -28, syscall: 'write' });
      }
      const n = fs.writeSync(fd, buffer, offset, Math.min(length, room));
      f.written += n;
      return n;
    },
  };
  return f;
}

describe('atomic file writes', () => {
  const tmp = useTmpDir();
  const leftovers = (dir: string) => fs.readdirSync(dir).filter((n) => n.includes('.tmp-'));

  it('replaces a file whole, leaving no temp file', () => {
    const file = path.join(tmp(), 'a.json');
    writeJsonAtomic(file, { x: 1 });
    assert.equal(fs.readFileSync(file, 'utf8'), '{\n "x": 1\n}\n');
    writeFileAtomic(file, 'second');
    assert.equal(fs.readFileSync(file, 'utf8'), 'second');
    assert.deepEqual(leftovers(tmp()), []);
  });

  for (const [name, failure] of [
    ['ENOSPC', { code: 'ENOSPC' }],
    ['EDQUOT', { code: 'EDQUOT' }],
    ['a short write that makes no progress', { shortWrite: true }],
  ] as const) {
    it(`${name}: one line naming the path, the old file intact, nothing partial left`, async () => {
      const file = path.join(tmp(), 'out.jsonl');
      fs.writeFileSync(file, 'old content\n');
      const injected = fillingFs(5000, failure);
      const err = await withAtomicWriter(
        file,
        (w) => {
          for (let i = 0; i < 100; i++) w.write(`{"line": ${i}, "pad": "${'x'.repeat(100)}"}\n`);
        },
        { fs: injected },
      ).then(
        () => assert.fail('the write succeeded on a full disk'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof UserError, String(err));
      assert.ok(!err.message.includes('\n'));
      assert.ok(err.message.includes(file), err.message);
      assert.match(err.message, /free some space/);
      assert.match(err.message, failure.code === 'EDQUOT' ? /quota.*EDQUOT/ : /no space left.*ENOSPC/);
      assert.equal(injected.written, 5000, 'it did fill the disk');
      assert.equal(fs.readFileSync(file, 'utf8'), 'old content\n');
      assert.deepEqual(leftovers(tmp()), []);
    });
  }

  it('a failing producer leaves the old file and no temp; other errors pass through unchanged', async () => {
    const file = path.join(tmp(), 'b.txt');
    fs.writeFileSync(file, 'old');
    await assert.rejects(
      withAtomicWriter(file, (w) => {
        w.write('new, half');
        throw new RangeError('producer failed');
      }),
      RangeError,
    );
    assert.equal(fs.readFileSync(file, 'utf8'), 'old');
    assert.deepEqual(leftovers(tmp()), []);
    assert.throws(() => writeFileAtomic(path.join(tmp(), 'missing-dir', 'c.txt'), 'x'), (e: NodeJS.ErrnoException) => e.code === 'ENOENT');
  });

  it('a read-only file system is one line too; a committed writer cannot be written again', () => {
    const e = describeWriteError('/mnt/ro/x', Object.assign(new Error('EROFS'), { code: 'EROFS' }));
    assert.ok(e instanceof UserError);
    assert.match(e.message, /^cannot write \/mnt\/ro\/x: the file system is read-only \(EROFS\)/);
    assert.equal(describeWriteError('/x', new Error('other')), undefined);
    const w = AtomicWriter.open(path.join(tmp(), 'd.txt'));
    w.write('d');
    w.commit();
    assert.throws(() => w.write('more'), /already committed/);
    assert.equal(fs.readFileSync(path.join(tmp(), 'd.txt'), 'utf8'), 'd');
  });
});
