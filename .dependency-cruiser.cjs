/* global module */
/**
 * Dependency rules for src/ (issue #15), checked by `make check` (npx depcruise src). The folder-level
 * cycle check is scripts/check-folder-cycles.ts. Type-only imports count: a dependency is a
 * dependency whether or not it survives compilation.
 */
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'A module must not depend on itself through others: split the shared part out, or pass it in from app.ts.',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'http-imports-no-feature',
      severity: 'error',
      comment:
        'src/http holds the server only (Fastify instance, swagger, error handler, bearer auth). Features register themselves '
        + '(src/<feature>/plugin.ts, mounted by src/app.ts); what http needs from a feature is an interface http defines.',
      from: { path: '^src/http/' },
      to: { path: '^src/[^/]+/', pathNot: '^src/(http|shared)/' },
    },
    {
      name: 'schema-imports-only-kysely',
      severity: 'error',
      comment:
        'Table files (src/<feature>/tables.ts) are the schema layer: the Database type in src/db is '
        + 'assembled from them, so they import kysely types and nothing else.',
      from: { path: '^src/.+/tables\\.ts$' },
      to: { pathNot: '(^|/)node_modules/kysely/' },
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      comment: 'An import that resolves to nothing.',
      from: { path: '^src/' },
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      extensions: ['.ts', '.js', '.mjs', '.cjs', '.d.ts'],
    },
    reporterOptions: {
      text: { highlightFocused: true },
    },
  },
};
