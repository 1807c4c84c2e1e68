// Draws a merged trace of `tsmpirun --trace` as an SVG timeline: one track per
// rank (and lane) grouped by host, spans by category, an arrow from each send
// to the receive that took it. For the docs' picture (docs/trace-heat.png),
// where Perfetto's UI cannot be reached; Perfetto and chrome://tracing open the
// trace file itself.
//
//   node scripts/trace-svg.mjs trace.json out.svg [fromMs toMs]
import { readFileSync, writeFileSync } from 'node:fs';

const [input, output, fromText, toText] = process.argv.slice(2);
if (input === undefined || output === undefined) {
  console.error('usage: node scripts/trace-svg.mjs trace.json out.svg [fromMs toMs]');
  process.exit(2);
}
const { traceEvents: events, otherData } = JSON.parse(readFileSync(input, 'utf8'));
const spans = events.filter((e) => e.ph === 'X');
const from = fromText === undefined ? 0 : Number(fromText) * 1000;
const to = toText === undefined ? Math.max(...spans.map((e) => e.ts + e.dur)) : Number(toText) * 1000;
const meta = (name, pid, tid) => events.find((e) => e.ph === 'M' && e.name === name && e.pid === pid && (tid === undefined || e.tid === tid))?.args?.name;
const tracks = [...new Set(events.filter((e) => e.ph !== 'M').map((e) => `${e.pid}:${e.tid}`))]
  .map((key) => key.split(':').map(Number))
  .sort((a, b) => a[0] - b[0] || a[1] - b[1]);

const LABEL = 190;
const WIDTH = 1600;
const ROW = 24;
const TOP = 56;
const x = (ts) => LABEL + ((ts - from) / (to - from)) * (WIDTH - LABEL - 10);
const rowOf = new Map();
const parts = [];
let y = TOP;
let lastPid;
for (const [pid, tid] of tracks) {
  if (pid !== lastPid) {
    parts.push(`<text x="6" y="${y + 15}" class="host">${meta('process_name', pid) ?? `process ${pid}`}</text>`);
    y += ROW;
    lastPid = pid;
  }
  rowOf.set(`${pid}:${tid}`, y);
  parts.push(`<rect x="0" y="${y}" width="${WIDTH}" height="${ROW}" class="${(y / ROW) % 2 ? 'odd' : 'even'}"/>`, `<text x="18" y="${y + 16}" class="track">${meta('thread_name', pid, tid) ?? tid}</text>`);
  y += ROW;
}
const COLORS = { collective: '#4e79a7', p2p: '#f28e2b', runtime: '#bab0ac', launcher: '#59a14f' };
const escape = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;');
for (const e of spans) {
  if (e.ts + e.dur < from || e.ts > to) continue;
  const left = Math.max(x(e.ts), LABEL);
  const width = Math.max(Math.min(x(e.ts + e.dur), WIDTH - 10) - left, 0.8);
  const top = rowOf.get(`${e.pid}:${e.tid}`) + 3;
  parts.push(`<rect x="${left.toFixed(2)}" y="${top}" width="${width.toFixed(2)}" height="${ROW - 6}" fill="${COLORS[e.cat] ?? '#999'}"><title>${escape(e.name)} ${escape(JSON.stringify(e.args ?? {}))}</title></rect>`);
  if (width > 7 * e.name.length) parts.push(`<text x="${(left + 3).toFixed(2)}" y="${top + 13}" class="span">${escape(e.name)}</text>`);
}
const ends = new Map(events.filter((e) => e.ph === 'f').map((e) => [e.id, e]));
for (const s of events.filter((e) => e.ph === 's')) {
  const f = ends.get(s.id);
  if (f === undefined || f.ts < from || s.ts > to) continue;
  const y1 = rowOf.get(`${s.pid}:${s.tid}`) + ROW / 2;
  const y2 = rowOf.get(`${f.pid}:${f.tid}`) + ROW / 2;
  parts.push(`<line x1="${x(s.ts).toFixed(2)}" y1="${y1}" x2="${x(f.ts).toFixed(2)}" y2="${y2}" class="flow" marker-end="url(#arrow)"/>`);
}
const ticks = [];
// A tick every 1, 2 or 5 × 10^k ms, about eight of them.
const rough = (to - from) / 1000 / 8;
const decade = 10 ** Math.floor(Math.log10(rough));
const step = ([1, 2, 5, 10].find((m) => m * decade >= rough) ?? 10) * decade * 1000;
for (let t = Math.ceil(from / step) * step; t <= to; t += step) {
  ticks.push(`<line x1="${x(t)}" y1="${TOP - 6}" x2="${x(t)}" y2="${y}" class="tick"/><text x="${x(t) + 2}" y="${TOP - 10}" class="tick">${(t / 1000).toFixed(step < 1000 ? 1 : 0)} ms</text>`);
}
const title = `${escape(otherData.program)}: ${otherData.size} ranks (tsmpirun --trace)${fromText === undefined ? '' : `, ${fromText}–${toText} ms`}`;
writeFileSync(
  output,
  `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${y + 30}" font-family="DejaVu Sans, sans-serif">
<defs><marker id="arrow" viewBox="0 0 8 8" refX="7" refY="4" markerWidth="6" markerHeight="6" orient="auto"><path d="M0,0 L8,4 L0,8 z" fill="#222"/></marker></defs>
<style>.host{font-weight:bold;font-size:13px}.track{font-size:12px}.span{font-size:10px;fill:#fff}.tick{stroke:#ccc;font-size:10px;fill:#555}.flow{stroke:#222;stroke-width:0.8}.odd{fill:#f4f4f4}.even{fill:#fff}</style>
<rect width="100%" height="100%" fill="#fff"/>
<text x="6" y="18" font-size="15" font-weight="bold">${title}</text>
${ticks.join('\n')}
${parts.join('\n')}
<text x="6" y="${y + 20}" font-size="11" fill="#555">blue: collectives · orange: send/recv · grey: start and init · green: the launcher · arrows: each message, from its send to the receive that took it</text>
</svg>
`,
);
