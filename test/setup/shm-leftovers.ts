// After every test: no shared-memory segment of any job is left in /dev/shm,
// however the test's jobs ended (kill -9 included). Segments of a job are
// named /dev/shm/tsmpi-<job>-<rank>-<random>; a rank unlinks its own once its
// peers have mapped it, and the launcher (or host agent) removes what a killed
// rank left.
import { readdirSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, expect } from 'vitest';

function leftovers(): string[] {
  try {
    return readdirSync('/dev/shm').filter((name) => name.startsWith('tsmpi-'));
  } catch {
    return []; // no /dev/shm: not Linux
  }
}

afterEach(async () => {
  // A job whose launcher was killed takes a moment to end on its own.
  for (let i = 0; i < 50 && leftovers().length > 0; i++) await sleep(100);
  expect(leftovers(), 'shared-memory segments left in /dev/shm').toEqual([]);
});
