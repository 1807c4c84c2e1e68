/**
 * Every `TSMPI_*` setting checked at once: by `init()` for this process, and
 * by `tsmpirun` for the environment it gives the ranks, before any starts.
 */
import { loadConfig, SettingsReader, configProblems } from './config.js';
import { loadTuning, tuningProblems } from './collectives/tuning.js';
import type { ConfigurationError } from './errors.js';

/** Variables the launcher sets for each rank; not settings. */
const LAUNCHER_VARIABLES = /^TSMPI_(BOOTSTRAP_FD|COMM_WORLD_\w+)$/;

/**
 * What is malformed in `env`'s settings, the `TSMPI_*` names in it that are
 * no setting at all (typos), and every setting's name. (The names are those
 * the settings' readers ask for.)
 */
export function checkEnvironment(env: NodeJS.ProcessEnv): { problems: ConfigurationError[]; unknown: string[]; settings: string[] } {
  const known = new Set<string>();
  const recording = new Proxy(env, {
    get(target, name) {
      if (typeof name === 'string') known.add(name);
      return Reflect.get(target, name) as unknown;
    },
  });
  const reader = new SettingsReader(recording);
  loadConfig(reader);
  loadTuning(reader);
  const unknown = Object.keys(env).filter((name) => name.startsWith('TSMPI_') && !known.has(name) && !LAUNCHER_VARIABLES.test(name));
  return { problems: reader.problems, unknown, settings: [...known] };
}

/** The first malformed setting of this process, if any. */
export function configurationError(): ConfigurationError | undefined {
  return configProblems[0] ?? tuningProblems[0];
}
