// Prints where the program thinks it is, and the top stack frame of an error.
import { fileURLToPath } from 'node:url';
import { finalize, init } from 'tsmpi';

const world = await init();
const frame = new Error('here').stack?.split('\n')[1]?.trim() ?? '';
console.log(`rank ${world.rank} url ${fileURLToPath(import.meta.url)} argv1 ${process.argv[1]} frame ${frame}`);
await finalize();
