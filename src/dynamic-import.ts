/**
 * `import()` for the runtime's own code. The runtime runs from a `vm.Script`
 * with a code cache (code-cache.ts), and in Node 20 a script compiled from
 * another process's code cache has lost its `import()` callback ("A dynamic
 * import callback was not specified"); so the loader, an ES module, leaves
 * its own `import()` under {@link IMPORT_HOOK}, and this calls that when it is there.
 */
export const IMPORT_HOOK = Symbol.for('tsmpi.import');

/** Imports `specifier` (a URL, or a package resolved from tsmpi's folder) as `import()` would. */
export function dynamicImport(specifier: string): Promise<unknown> {
  const hook = (globalThis as { [IMPORT_HOOK]?: (specifier: string) => Promise<unknown> })[IMPORT_HOOK];
  return hook === undefined ? import(specifier) : hook(specifier);
}
