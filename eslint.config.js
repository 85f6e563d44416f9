import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  // Type-aware rules read the TypeScript program (tsconfig.json covers src, test, bench,
  // migrations and vitest.config.ts), found per file by the project service.
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
  },
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', URL: 'readonly', fetch: 'readonly', AbortSignal: 'readonly', performance: 'readonly' } },
    rules: {
      '@typescript-eslint/no-explicit-any': ['error', { ignoreRestArgs: true }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      // A promise nobody awaits or catches leaves its rejection to the process-wide handler, which
      // cannot say what failed; `void p` only hides that. Await it, or catch it with an error path
      // that logs (src/shared/log-rejection.ts).
      '@typescript-eslint/no-floating-promises': ['error', { ignoreVoid: false }],
      '@typescript-eslint/no-misused-promises': 'error',
      // recommendedTypeChecked's rules that the code already keeps (the rest would flood: no-unsafe-*,
      // require-await).
      '@typescript-eslint/await-thenable': 'error',
      '@typescript-eslint/no-array-delete': 'error',
      '@typescript-eslint/no-duplicate-type-constituents': 'error',
      '@typescript-eslint/no-for-in-array': 'error',
      '@typescript-eslint/no-implied-eval': 'error',
      '@typescript-eslint/no-unsafe-enum-comparison': 'error',
      '@typescript-eslint/no-unsafe-unary-minus': 'error',
      '@typescript-eslint/prefer-promise-reject-errors': 'error',
      '@typescript-eslint/restrict-plus-operands': 'error',
      '@typescript-eslint/restrict-template-expressions': 'error',
      'no-restricted-imports': ['error', { paths: [
        { name: 'asterisk-manager', message: 'only src/telephony/ami.ts may import asterisk-manager' },
      ] }],
    },
  },
  { files: ['src/telephony/ami.ts', 'src/telephony/vendor.d.ts'], rules: { 'no-restricted-imports': 'off' } },
  // Migrations are frozen in time and typed against Kysely<any> by design.
  { files: ['migrations/**/*.ts'], rules: { '@typescript-eslint/no-explicit-any': 'off' } },
  { files: ['src/db/migrate.ts'], rules: { '@typescript-eslint/no-explicit-any': 'off' } },
  // Plain JavaScript (this file, bin/pbx.js) is outside the TypeScript program: no type information.
  { files: ['**/*.js', '**/*.cjs', '**/*.mjs'], ...tseslint.configs.disableTypeChecked },
  // The wallboard page's script runs in the browser (src/wallboard/static, docs/wallboard.md).
  { files: ['src/wallboard/static/**/*.js'], languageOptions: { globals: { window: 'readonly', document: 'readonly', sessionStorage: 'readonly', EventSource: 'readonly', URLSearchParams: 'readonly', CSS: 'readonly' } } },
);
