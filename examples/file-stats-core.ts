// Statistics of one data file of the vega-datasets package: the task of the
// pool in file-stats.ts, and its serial check (test/integration/pool.test.ts).
import { readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import Table from 'cli-table3';
import { autoType, csvParse, tsvParse } from 'd3-dsv';

/** What one file holds. */
export interface FileStats {
  file: string;
  bytes: number;
  /** Rows of a table, elements of a JSON array, keys of a JSON object. */
  records: number;
  /** Distinct fields of the records (columns, object keys). */
  fields: number;
  /** Fields whose every present value is a number. */
  numericFields: number;
  /** Fields absent, empty or null, over all records. */
  missing: number;
  /** The mean of the first numeric field (its name), or '' when none. */
  firstNumeric: string;
  mean: number;
}

/** The data folder of vega-datasets (the package exports only its entry point; the data sits beside its build/ folder). */
export function dataFolder(): string {
  return path.join(path.dirname(createRequire(import.meta.url).resolve('vega-datasets')), '..', 'data');
}

/** Every CSV, TSV and JSON file of the package, by name. */
export function dataFiles(): string[] {
  return readdirSync(dataFolder())
    .filter((f) => /\.(csv|tsv|json)$/.test(f))
    .sort()
    .map((f) => path.join(dataFolder(), f));
}

/** Reads and measures one file (the pool's task). */
export async function fileStats(file: string): Promise<FileStats> {
  const text = await readFile(file, 'utf8');
  let records: unknown[];
  if (file.endsWith('.json')) {
    const value: unknown = JSON.parse(text);
    records = Array.isArray(value) ? value : value !== null && typeof value === 'object' ? Object.values(value) : [value];
  } else {
    records = (file.endsWith('.tsv') ? tsvParse : csvParse)(text, autoType);
  }
  const objects = records.filter((r): r is Record<string, unknown> => r !== null && typeof r === 'object' && !Array.isArray(r));
  const fields = [...new Set(objects.flatMap((o) => Object.keys(o)))];
  const present = (v: unknown): boolean => v !== null && v !== undefined && v !== '';
  const numeric = fields.filter((f) => objects.some((o) => present(o[f])) && objects.every((o) => !present(o[f]) || typeof o[f] === 'number'));
  let missing = 0;
  for (const o of objects) for (const f of fields) if (!present(o[f])) missing++;
  const first = numeric[0];
  const values = first === undefined ? [] : objects.map((o) => o[first]).filter((v): v is number => typeof v === 'number');
  const mean = values.length > 0 ? values.reduce((a, b) => a + b, 0) / values.length : 0;
  return { file: path.basename(file), bytes: Buffer.byteLength(text), records: records.length, fields: fields.length, numericFields: numeric.length, missing, firstNumeric: first ?? '', mean };
}

/** The table the example prints. */
export function formatTable(stats: readonly FileStats[]): string {
  const table = new Table({
    head: ['file', 'KiB', 'records', 'fields', 'numeric', 'missing', 'first numeric field', 'its mean'],
    colAligns: ['left', 'right', 'right', 'right', 'right', 'right', 'left', 'right'],
    style: { head: [], border: [] },
    chars: { mid: '', 'left-mid': '', 'mid-mid': '', 'right-mid': '' },
  });
  for (const s of stats) table.push([s.file, (s.bytes / 1024).toFixed(1), s.records, s.fields, s.numericFields, s.missing, s.firstNumeric, s.firstNumeric ? s.mean.toFixed(3) : '']);
  const bytes = stats.reduce((a, s) => a + s.bytes, 0);
  return `${table.toString()}\n${stats.length} files, ${(bytes / 2 ** 20).toFixed(1)} MiB`;
}
