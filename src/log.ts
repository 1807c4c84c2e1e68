/**
 * Diagnostics: `[rank@host]`-prefixed lines on stderr, and the same events on
 * `node:diagnostics_channel` channels named `tsmpi:<area>`.
 */
import diagnosticsChannel from 'node:diagnostics_channel';
import os from 'node:os';
import { config } from './config.js';

let prefix = `[?@${os.hostname()}]`;

/** Sets the `[rank@host]` prefix once the rank is known. */
export function setLogRank(rank: number, host = os.hostname()): void {
  prefix = `[${rank}@${host}]`;
}

/** Prints a warning line to stderr, always. */
export function warn(message: string): void {
  process.stderr.write(`${prefix} tsmpi: ${message}\n`);
}

/** Publishes a debug event on `tsmpi:<area>` and prints it when `TSMPI_DEBUG` names the area. */
export function debug(area: string, message: string): void {
  const channel = diagnosticsChannel.channel(`tsmpi:${area}`);
  if (channel.hasSubscribers) channel.publish({ message });
  if (config.debug.has(area) || config.debug.has('all')) {
    process.stderr.write(`${prefix} tsmpi:${area} ${message}\n`);
  }
}
