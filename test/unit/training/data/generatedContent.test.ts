import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { contentVerdict } from '../../../../src/training/data/fileFilters';
import { largestTopLevelBlock, lineShape, looksGenerated, shapeCoverage } from '../../../../src/training/data/generatedContent';

const REPO = path.resolve(__dirname, '../../../..');

/**
 * A `supabase gen types typescript` file as the CLI writes it (no marker at the top): one
 * `Database` type with Row / Insert / Update / Relationships per table, then the generic helpers.
 */
function supabaseTypes(tables: number): string {
  const types = ['string', 'number', 'boolean', 'Json', 'string | null', 'number | null', 'Json | null'];
  const columns = ['id', 'created_at', 'updated_at', 'user_id', 'name', 'email', 'status', 'amount', 'title', 'price', 'notes', 'metadata', 'slug', 'owner_id'];
  const out = ['export type Json =', '  | string', '  | number', '  | boolean', '  | null', '  | { [key: string]: Json | undefined }', '  | Json[]', '', 'export type Database = {', '  public: {', '    Tables: {'];
  for (let t = 0; t < tables; t++) {
    const cols = columns.filter((_, i) => (i * 7 + t) % 3 !== 0 || i === 0);
    out.push(`      table_${t}: {`);
    for (const [part, optional] of [['Row', false], ['Insert', true], ['Update', true]] as const) {
      out.push(`        ${part}: {`);
      for (const [i, c] of cols.entries()) out.push(`          ${c}${optional && c !== 'id' ? '?' : ''}: ${types[(i + t) % types.length]}`);
      out.push('        }');
    }
    out.push('        Relationships: [', '          {', `            foreignKeyName: "table_${t}_owner_id_fkey"`, '            columns: ["owner_id"]', '            isOneToOne: false', '            referencedRelation: "users"', '            referencedColumns: ["id"]', '          },', '        ]', '      }');
  }
  out.push('    }', '    Views: {', '      [_ in never]: never', '    }', '  }', '}', '', 'type DefaultSchema = Database[Extract<keyof Database, "public">]', '');
  // The helpers' varied lines (Tables, TablesInsert, TablesUpdate, Enums): ~90 lines in the real file.
  for (const name of ['Tables', 'TablesInsert', 'TablesUpdate', 'Enums']) {
    out.push(
      `export type ${name}<`,
      '  DefaultSchemaTableNameOrOptions extends',
      '    | keyof (DefaultSchema["Tables"] & DefaultSchema["Views"])',
      '    | { schema: keyof Database },',
      '  TableName extends DefaultSchemaTableNameOrOptions extends {',
      '    schema: keyof Database',
      '  }',
      '    ? keyof (Database[DefaultSchemaTableNameOrOptions["schema"]]["Tables"] &',
      '        Database[DefaultSchemaTableNameOrOptions["schema"]]["Views"])',
      '    : never = never,',
      '> = DefaultSchemaTableNameOrOptions extends { schema: keyof Database }',
      '  ? (Database[DefaultSchemaTableNameOrOptions["schema"]]["Tables"] &',
      '      Database[DefaultSchemaTableNameOrOptions["schema"]]["Views"])[TableName] extends {',
      '      Row: infer R',
      '    }',
      '    ? R',
      '    : never',
      '  : DefaultSchemaTableNameOrOptions extends keyof (DefaultSchema["Tables"] &',
      '        DefaultSchema["Views"])',
      '    ? (DefaultSchema["Tables"] & DefaultSchema["Views"])[DefaultSchemaTableNameOrOptions] extends {',
      '        Row: infer R',
      '      }',
      '      ? R',
      '      : never',
      '    : never',
      '',
    );
  }
  return out.join('\n');
}

function sources(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? sources(p) : /\.(ts|js|mjs)$/.test(e.name) ? [p] : [];
  });
}

describe('training data: generated files recognised by content', () => {
  it('a line shape keeps punctuation and drops names, strings and numbers', () => {
    assert.equal(lineShape('          avatar_url?: string | null'), 'w?: w | w');
    assert.equal(lineShape('  deleted_at?: Json | null'), 'w?: w | w');
    assert.equal(lineShape(`    foreignKeyName: "orders_user_id_fkey"`), 'w: "');
    assert.equal(lineShape('  const total = price * 12.5 + fee(items[0]);'), 'w w = w * 0 + w(w[0]);');
  });

  it('skips Supabase database types without a marker, small and large, helpers included', () => {
    for (const tables of [12, 40]) {
      const text = supabaseTypes(tables);
      const lines = shapeCoverage(text).lines;
      assert.ok(lines > 300, `${lines} lines`);
      assert.ok(looksGenerated(text), `${tables} tables: coverage ${shapeCoverage(text).coverage.toFixed(3)}, block ${largestTopLevelBlock(text).length} of ${lines}`);
      assert.deepEqual(contentVerdict(Buffer.from(text)), { reason: 'generated' });
    }
  });

  it("keeps every source file of this repository (people's code: calls, branches, types)", () => {
    const files = ['src', 'test', 'bench', 'scripts'].flatMap((d) => sources(path.join(REPO, d)));
    assert.ok(files.length > 200);
    const flagged = files.filter((f) => looksGenerated(fs.readFileSync(f, 'utf8')));
    assert.deepEqual(flagged.map((f) => path.relative(REPO, f)), []);
    // Long files among them were really checked.
    assert.ok(files.filter((f) => shapeCoverage(fs.readFileSync(f, 'utf8')).lines >= 200).length > 40);
  });

  it('keeps short files whatever their shape (a small enum or table is not worth a rule)', () => {
    const table = Array.from({ length: 150 }, (_, i) => `  NAME_${i}: ${i},`).join('\n');
    assert.equal(looksGenerated(`export const T = {\n${table}\n};\n`), false);
    assert.equal(looksGenerated(`export const T = {\n${table}\n${table}\n};\n`), true);
  });
});
