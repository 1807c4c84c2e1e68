/**
 * Every `TSMPI_*` setting checked at once: by `init()` for this process, and
 * by `tsmpirun` for the environment it gives the ranks, before any starts.
 * The settings are the names their readers ask for (`SettingsReader.values`).
 */
import { loadConfig, SettingsReader, configProblems } from './config.js';
import { loadTuning, tuningProblems } from './collectives/tuning.js';
import type { ConfigurationError } from './errors.js';

/** Variables the launcher sets for each rank; not settings. */
const LAUNCHER_VARIABLES = /^TSMPI_(BOOTSTRAP_FD|COMM_WORLD_\w+)$/;

/**
 * What is malformed in `env`'s settings, the `TSMPI_*` names in it that are
 * no setting at all (typos), and every setting's name.
 */
export function checkEnvironment(env: NodeJS.ProcessEnv): { problems: ConfigurationError[]; unknown: string[]; settings: string[] } {
  const reader = readSettings(env);
  const unknown = Object.keys(env).filter((name) => name.startsWith('TSMPI_') && !reader.values.has(name) && !LAUNCHER_VARIABLES.test(name));
  return { problems: reader.problems, unknown, settings: [...reader.values.keys()] };
}

/** Every setting of `env`, read as the runtime reads them. */
function readSettings(env: NodeJS.ProcessEnv): SettingsReader {
  const reader = new SettingsReader(env);
  loadConfig(reader);
  loadTuning(reader);
  return reader;
}

/** One setting, for `tsmpirun --info`. */
export interface SettingValue {
  name: string;
  /** The value in force ('' when unset and without a default). */
  value: string;
  /** `default`, `environment`, or what set it (`tsmpirun --transport`); `malformed` values keep their default. */
  source: string;
}

/**
 * Every setting read from `env`, with the value in force and where it came
 * from. `setBy`: settings the launcher put in `env` itself, and the option
 * that did.
 */
export function describeSettings(env: NodeJS.ProcessEnv, setBy: Readonly<Record<string, string>> = {}): SettingValue[] {
  const reader = readSettings(env);
  const malformed = new Set(reader.problems.map((p) => p.variable));
  return [...reader.values]
    .map(([name, value]) => ({
      name,
      value: value === undefined ? '' : String(value),
      source: env[name] === undefined || env[name] === '' ? 'default' : malformed.has(name) ? 'environment (malformed: default used)' : (setBy[name] ?? 'environment'),
    }))
    .sort((a, b) => a.name.localeCompare(b.name));
}

/** The first malformed setting of this process, if any. */
export function configurationError(): ConfigurationError | undefined {
  return configProblems[0] ?? tuningProblems[0];
}
