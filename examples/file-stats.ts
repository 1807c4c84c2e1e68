// Statistics of every CSV, TSV and JSON file that ships in vega-datasets (68 files,
// 1 KiB to 20 MiB: real load imbalance) with a task pool: rank 0 hands out the
// files one at a time, the other ranks read and measure them.
//   npx --no -- tsmpirun -n 4 examples/file-stats.ts
import cliProgress from 'cli-progress';
import { finalize, init } from 'tsmpi';
import { openPool, task } from 'tsmpi/pool';
import { dataFiles, formatTable, type FileStats } from './file-stats-core.js';

await init();
const pool = await openPool();
if (pool) {
  const files = dataFiles();
  // On a terminal, a progress bar on stderr (cli-progress draws nothing elsewhere).
  const bar = new cliProgress.SingleBar({ stream: process.stderr, format: 'files {bar} {value}/{total}' }, cliProgress.Presets.shades_classic);
  bar.start(files.length, 0);
  // The task is named, not shipped: each worker imports fileStats from its own copy of this folder.
  const stats = await pool.map<FileStats>(task(new URL('./file-stats-core.ts', import.meta.url), 'fileStats'), files, {
    chunksize: 1,
    onProgress: (done) => bar.update(done),
  });
  bar.stop();
  console.log(formatTable(stats));
  await pool.close();
}
await finalize();
