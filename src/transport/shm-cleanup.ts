/**
 * What a job's shared memory leaves on a host, and its removal: the launcher
 * (and each host agent) makes the job's 0700 folder for doorbells, and removes
 * it and every segment of the job at the end, whatever way the job ended (a
 * rank killed with kill -9 never unlinks its segment itself).
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { segmentPrefix } from './shm.js';

/** Makes the job's private folder for shared-memory doorbells on this host. */
export function makeShmDir(jobId: string): string {
  return mkdtempSync(path.join(os.tmpdir(), `tsmpi-${jobId}-`));
}

/** Removes the folder and every segment of `jobId` left in /dev/shm. */
export function removeShm(jobId: string, dir: string | undefined): void {
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  let names: string[];
  try {
    names = readdirSync('/dev/shm');
  } catch {
    return; // no /dev/shm here (not Linux): shm_unlink by the ranks is all there is
  }
  for (const name of names) if (name.startsWith(segmentPrefix(jobId))) rmSync(path.join('/dev/shm', name), { force: true });
}
