// Latency and bandwidth against message size for every stack of the suite, as SVG (Vega-Lite).
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import type { Row } from './common.js';

export async function renderChart(rows: readonly Row[]): Promise<string> {
  const names: Record<Row['stack'], string> = {
    tsmpi: 'tsmpi (shared memory)',
    'tsmpi-grpc': 'tsmpi --transport grpc',
    'raw-tls': 'raw node:tls mTLS',
    'grpc-js': 'plain grpc-js',
    openmpi: 'Open MPI (TCP)',
    'openmpi-shm': 'Open MPI (vader)',
  };
  const data = rows.filter((r) => r.np === 2 && (r.test === 'latency' || r.test === 'bw')).map((r) => ({ ...r, stack: names[r.stack] }));
  const panel = (test: string, title: string, y: string): Record<string, unknown> => ({
    title,
    width: 360,
    height: 260,
    transform: [{ filter: `datum.test === '${test}'` }],
    mark: { type: 'line', point: true },
    encoding: {
      x: { field: 'bytes', type: 'quantitative', scale: { type: 'log', base: 2 }, title: 'message size (bytes)' },
      y: { field: 'value', type: 'quantitative', scale: { type: 'log' }, title: y },
      color: { field: 'stack', type: 'nominal', title: null },
    },
  });
  const spec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    data: { values: data },
    hconcat: [panel('latency', 'Ping-pong latency (np 2)', 'one-way latency (µs)'), panel('bw', 'Bandwidth (np 2)', 'MB/s')],
  } as unknown as TopLevelSpec;
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  return view.toSVG();
}
