// Data-parallel training: every rank holds a shard of the iris training set,
// computes its gradient sums, and an allreduce(SUM) gives every rank the same
// full-batch gradient, so all ranks take identical steps.
//   npx --no -- tsmpirun -n 4 examples/train-iris.ts
import { finalize, init, SUM } from 'tsmpi';
import { accuracy, EPOCHS, featureSums, gradientSums, LEARNING_RATE, loadIris, PARAMS, standardizer, type Sample } from './iris-core.js';

const world = await init();
const { train, test } = loadIris();
const shard = train.filter((_, i) => i % world.size === world.rank);

// Standardize with statistics of the whole training set, combined across ranks.
const scale = standardizer(await world.allreduce(featureSums(shard), { op: SUM }));
const scaled = (s: readonly Sample[]): Sample[] => s.map(({ x, y }) => ({ x: scale(x), y }));
const myData = scaled(shard);

const params = new Float64Array(PARAMS);
for (let epoch = 1; epoch <= EPOCHS; epoch++) {
  const sums = await world.allreduce(gradientSums(params, myData), { op: SUM });
  const n = sums[PARAMS + 1] as number;
  for (let i = 0; i < PARAMS; i++) params[i] = (params[i] as number) - (LEARNING_RATE * (sums[i] as number)) / n;
  if (world.rank === 0 && (epoch % 100 === 0 || epoch === 1)) console.log(`epoch ${epoch}: loss ${((sums[PARAMS] as number) / n).toFixed(6)}`);
}

// Every rank has the same parameters; rank 0 reports the accuracy on the full sets.
if (world.rank === 0) {
  console.log(`${world.size} ranks: train accuracy ${(100 * accuracy(params, scaled(train))).toFixed(1)} %, test accuracy ${(100 * accuracy(params, scaled(test))).toFixed(1)} %`);
}
await finalize();
