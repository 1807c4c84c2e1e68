/**
 * Diagnostics: timestamped `[rank@host]` lines on stderr for the areas
 * `TSMPI_DEBUG` names, and the same events, as objects, on
 * `node:diagnostics_channel` channels named `tsmpi:<area>` (for tools; a
 * channel nobody subscribes to costs one check per event).
 *
 * @example
 * ```ts
 * import diagnosticsChannel from 'node:diagnostics_channel';
 * diagnosticsChannel.subscribe('tsmpi:collective', (event) => console.log(event));
 * ```
 */
import diagnosticsChannel from 'node:diagnostics_channel';
import os from 'node:os';
import { config, type DEBUG_AREAS } from './config.js';

let rank = -1;
let host = os.hostname();
let prefix = `[?@${host}]`;

/** Sets the `[rank@host]` prefix once the rank is known. */
export function setLogRank(r: number, h = os.hostname()): void {
  rank = r;
  host = h;
  prefix = `[${r}@${h}]`;
}

/** Prints a warning line to stderr, always. */
export function warn(message: string): void {
  process.stderr.write(`${prefix} tsmpi: ${message}\n`);
}

/** A debug area: `transport`, `wireup`, `collective` or `p2p`. */
export type DebugArea = Exclude<(typeof DEBUG_AREAS)[number], 'all'>;

/**
 * The object published on `tsmpi:<area>` for each event: when (ms since the
 * epoch), where (world rank, -1 before it is known; host), what (`event`, a
 * short name such as `collective-end`), a readable `message`, and the event's
 * own fields (peer, tag, bytes, algorithm, …).
 */
export interface DebugEvent {
  area: DebugArea;
  event: string;
  time: number;
  rank: number;
  host: string;
  message: string;
  [field: string]: unknown;
}

const channels = {
  transport: diagnosticsChannel.channel('tsmpi:transport'),
  wireup: diagnosticsChannel.channel('tsmpi:wireup'),
  collective: diagnosticsChannel.channel('tsmpi:collective'),
  p2p: diagnosticsChannel.channel('tsmpi:p2p'),
} satisfies Record<DebugArea, diagnosticsChannel.Channel>;

/** Whether `TSMPI_DEBUG` names any area (checked once: on the hot path, off must cost next to nothing). */
const printing = config.debug.size > 0;
const printed = (area: DebugArea): boolean => printing && (config.debug.has(area) || config.debug.has('all'));

/**
 * True when someone wants events of `area` (printed, or subscribed to): the
 * caller builds an event only then.
 */
export function debugging(area: DebugArea): boolean {
  return printed(area) || channels[area].hasSubscribers;
}

/**
 * Publishes an event of `area` on `tsmpi:<area>` and prints it when
 * `TSMPI_DEBUG` names the area, as
 * `2026-12-02T03:45:34.123Z [rank@host] tsmpi:<area> <message>`.
 */
export function debug(area: DebugArea, message: string, event = 'message', fields: Record<string, unknown> = {}): void {
  const channel = channels[area];
  const time = Date.now();
  if (channel.hasSubscribers) channel.publish({ ...fields, area, event, time, rank, host, message } satisfies DebugEvent);
  if (printed(area)) process.stderr.write(`${new Date(time).toISOString()} ${prefix} tsmpi:${area} ${message}\n`);
}
