// A small, repetitive TypeScript code base written into the fixture workspace's temporary copy for
// the fine-tuning tests: enough tokens to pass the production data minimums (20,000 training
// tokens, a held-out file with 10 evaluation cuts) without lowering them, and regular enough that a
// few steps of training move the loss. Deterministic, so runs are comparable; every file differs
// (exact duplicates are skipped by the data filters).
import * as fs from 'node:fs';
import * as path from 'node:path';

const ENTITIES = ['order', 'invoice', 'customer', 'product', 'shipment', 'supplier', 'payment', 'warehouse', 'ticket', 'account', 'booking', 'review'];
const FIELDS = [
  ['quantity', 'number'],
  ['price', 'number'],
  ['name', 'string'],
  ['status', 'string'],
  ['createdAt', 'Date'],
  ['weight', 'number'],
  ['email', 'string'],
  ['region', 'string'],
] as const;

const cap = (s: string): string => s[0].toUpperCase() + s.slice(1);

function moduleSource(index: number): string {
  const entity = ENTITIES[index % ENTITIES.length];
  const type = `${cap(entity)}${index}`;
  const fields = FIELDS.filter((_, f) => (f + index) % 3 !== 0);
  const numeric = fields.filter(([, t]) => t === 'number');
  const lines: string[] = [];
  lines.push(`// ${entity} records of module ${index}: creation, validation, lookup and totals.`);
  lines.push('');
  lines.push(`export interface ${type} {`);
  lines.push('  id: number;');
  for (const [name, t] of fields) lines.push(`  ${name}: ${t};`);
  lines.push('}');
  lines.push('');
  lines.push(`export function create${type}(id: number${fields.map(([n, t]) => `, ${n}: ${t}`).join('')}): ${type} {`);
  lines.push(`  return { id${fields.map(([n]) => `, ${n}`).join('')} };`);
  lines.push('}');
  for (const [name, t] of fields) {
    lines.push('');
    lines.push(`export function get${cap(name)}(${entity}: ${type}): ${t} {`);
    lines.push(`  return ${entity}.${name};`);
    lines.push('}');
    lines.push('');
    lines.push(`export function with${cap(name)}(${entity}: ${type}, ${name}: ${t}): ${type} {`);
    lines.push(`  return { ...${entity}, ${name} };`);
    lines.push('}');
  }
  for (const [name] of numeric) {
    lines.push('');
    lines.push(`export function total${cap(name)}(${entity}s: ${type}[]): number {`);
    lines.push('  let total = 0;');
    lines.push(`  for (const ${entity} of ${entity}s) {`);
    lines.push(`    total += ${entity}.${name};`);
    lines.push('  }');
    lines.push('  return total;');
    lines.push('}');
  }
  lines.push('');
  lines.push(`export function find${type}ById(${entity}s: ${type}[], id: number): ${type} | undefined {`);
  lines.push(`  for (const ${entity} of ${entity}s) {`);
  lines.push(`    if (${entity}.id === id) {`);
  lines.push(`      return ${entity};`);
  lines.push('    }');
  lines.push('  }');
  lines.push('  return undefined;');
  lines.push('}');
  lines.push('');
  lines.push(`export function validate${type}(${entity}: ${type}): string[] {`);
  lines.push('  const errors: string[] = [];');
  lines.push(`  if (${entity}.id < 0) {`);
  lines.push(`    errors.push('${entity} ${index}: id must not be negative');`);
  lines.push('  }');
  for (const [name, t] of fields) {
    if (t === 'number') {
      lines.push(`  if (${entity}.${name} < 0) {`);
      lines.push(`    errors.push('${entity} ${index}: ${name} must not be negative');`);
    } else if (t === 'string') {
      lines.push(`  if (${entity}.${name}.trim() === '') {`);
      lines.push(`    errors.push('${entity} ${index}: ${name} must not be empty');`);
    } else {
      lines.push(`  if (Number.isNaN(${entity}.${name}.getTime())) {`);
      lines.push(`    errors.push('${entity} ${index}: ${name} must be a valid date');`);
    }
    lines.push('  }');
  }
  lines.push('  return errors;');
  lines.push('}');
  lines.push('');
  return lines.join('\n');
}

/** Writes `files` modules into `<workspace>/<folder>/`; returns the folder. */
export function writeCorpus(workspace: string, folder = 'corpus', files = 34): string {
  const dir = path.join(workspace, folder);
  fs.mkdirSync(dir, { recursive: true });
  for (let i = 0; i < files; i++) fs.writeFileSync(path.join(dir, `${ENTITIES[i % ENTITIES.length]}${i}.ts`), moduleSource(i));
  return dir;
}
