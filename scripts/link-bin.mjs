// `npm install` step (prepare) in a clone: links the package's own commands
// into its node_modules/.bin, which npm does only for dependencies. Without
// it, `npm run flights` finds no `tsmpirun`, and `npx tsmpirun` in the clone
// installs the clone into npm's npx cache (rebuilding it) on every first run.
import { mkdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const { bin } = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
const dir = path.join(root, 'node_modules', '.bin');
mkdirSync(dir, { recursive: true });
for (const [name, target] of Object.entries(bin)) {
  const link = path.join(dir, name);
  rmSync(link, { force: true });
  symlinkSync(path.relative(dir, path.join(root, target)), link);
}
