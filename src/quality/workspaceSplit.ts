/**
 * The files of a folder split into training and held-out sides exactly as `finetune` splits them
 * (list → filter → LF line breaks → token counts → splitFiles with the same seed), so a
 * fine-tuned adapter is never scored on a file it trained on. Or, with a held-out glob, the
 * files it matches are held out and the rest are the training side.
 */
import * as path from 'path';
import { UserError } from '../engine/errors';
import { getTokenizer } from '../engine/tokenizer';
import { normalizeLineBreaks } from '../training/data/examples';
import { filterFiles } from '../training/data/fileFilters';
import { PathGlobs } from '../training/data/glob';
import { listFiles } from '../training/data/listFiles';
import { splitFiles } from '../training/data/split';

export interface BenchFile {
  /** Relative to the folder, `/`-separated. */
  readonly path: string;
  /** The file's text with LF line breaks. */
  readonly text: string;
  readonly tokens: number;
}

export interface WorkspaceSplit {
  /** Absolute path of the folder. */
  readonly folder: string;
  readonly source: 'git' | 'walk';
  readonly train: BenchFile[];
  readonly heldOut: BenchFile[];
  /** Files the filters (or the include/exclude globs) left out. */
  readonly skipped: number;
  /** How the held-out side was chosen. */
  readonly by: 'finetune-split' | 'glob';
}

export interface SplitWorkspaceOptions {
  /** The seed finetune was (or will be) run with (default 0). */
  readonly seed?: number;
  /** As given to finetune: they change which files exist, so the split too. */
  readonly include?: readonly string[];
  readonly exclude?: readonly string[];
  /** Hold out the files this glob matches instead of finetune's split (glob.ts syntax). */
  readonly heldOutGlob?: string;
}

export async function splitWorkspace(folder: string, options: SplitWorkspaceOptions = {}): Promise<WorkspaceSplit> {
  const root = path.resolve(folder);
  const tokenizer = getTokenizer();
  const listing = await listFiles(root, { include: options.include, exclude: options.exclude });
  const files: BenchFile[] = [];
  let skipped = listing.excludedByGlob.length;
  // The same passes as mineDataset's first: its token counts decide the split.
  for await (const verdict of filterFiles(root, listing.files)) {
    if (!verdict.ok) {
      skipped++;
      continue;
    }
    const text = normalizeLineBreaks(verdict.text);
    files.push({ path: verdict.path, text, tokens: tokenizer.encode(text).length });
  }
  let train: BenchFile[];
  let heldOut: BenchFile[];
  if (options.heldOutGlob !== undefined) {
    const globs = new PathGlobs([options.heldOutGlob]);
    heldOut = files.filter((f) => globs.keeps(f.path));
    train = files.filter((f) => !globs.keeps(f.path));
    if (heldOut.length === 0) throw new UserError(`--heldout ${options.heldOutGlob} matches none of the ${files.length} usable files in ${root}`);
  } else {
    ({ train, heldOut } = splitFiles(files, { seed: options.seed ?? 0 }));
    if (heldOut.length === 0) throw new UserError(`no held-out files in ${root} (${files.length} usable files; at least two are needed, one of them held out)`);
  }
  return { folder: root, source: listing.source, train, heldOut, skipped, by: options.heldOutGlob !== undefined ? 'glob' : 'finetune-split' };
}
