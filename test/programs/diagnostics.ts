// Subscribes to tsmpi's diagnostics channels and prints each event it gets as a JSON line.
import diagnosticsChannel from 'node:diagnostics_channel';
import { init, finalize } from 'tsmpi';

const events: unknown[] = [];
for (const area of ['collective', 'p2p']) diagnosticsChannel.subscribe(`tsmpi:${area}`, (event) => events.push(event));
const world = await init();
await world.allreduce(new Float64Array(1000).fill(1));
if (world.rank === 0) await world.send(new Uint8Array(100), 1, { tag: 4 });
if (world.rank === 1) await world.recv({ source: 0, tag: 4 });
for (const event of events) console.log(`event ${JSON.stringify(event)}`);
await finalize();
