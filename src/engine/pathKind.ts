/**
 * What a path names, by stat (links followed), so a loader can refuse anything but a regular file
 * before opening it: reading a FIFO blocks until a writer comes (forever, for a model loader), and a
 * symbolic link loop is not "missing" to the user who made the link.
 */
import * as fs from 'fs';

export type PathKind = 'file' | 'folder' | 'missing' | 'link-loop' | 'fifo' | 'socket' | 'device' | 'other';

export function pathKind(p: string): PathKind {
  let st: fs.Stats;
  try {
    st = fs.statSync(p);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ELOOP') return 'link-loop';
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      // A dangling link is missing too, but a link whose chain loops is reported as ELOOP above.
      return 'missing';
    }
    throw e;
  }
  return kindOf(st);
}

export function kindOf(st: fs.Stats): PathKind {
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'folder';
  if (st.isFIFO()) return 'fifo';
  if (st.isSocket()) return 'socket';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'device';
  return 'other';
}

/** "is a FIFO (named pipe)", "is a symbolic link loop", ...: how a message names what was found. */
export function describeKind(kind: PathKind): string {
  switch (kind) {
    case 'file': return 'is a file';
    case 'folder': return 'is a folder';
    case 'missing': return 'does not exist';
    case 'link-loop': return 'is a symbolic link loop (following its links comes back to itself)';
    case 'fifo': return 'is a FIFO (named pipe), not a file';
    case 'socket': return 'is a socket, not a file';
    case 'device': return 'is a device, not a file';
    case 'other': return 'is not a regular file';
  }
}
