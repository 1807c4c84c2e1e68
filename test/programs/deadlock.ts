// Both ranks receive first: a receive that can never match (found by --timeout).
import { init } from 'tsmpi';

const world = await init();
await world.recv({ source: 1 - world.rank, tag: 7 });
await world.send('never', 1 - world.rank, { tag: 7 });
