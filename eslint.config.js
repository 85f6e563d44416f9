import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', URL: 'readonly', fetch: 'readonly', AbortSignal: 'readonly', performance: 'readonly' } },
    rules: {
      '@typescript-eslint/no-explicit-any': ['error', { ignoreRestArgs: true }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-imports': ['error', { paths: [
        { name: 'ari-client', message: 'only src/telephony/ari.ts may import ari-client' },
        { name: 'asterisk-manager', message: 'only src/telephony/ami.ts may import asterisk-manager' },
      ] }],
    },
  },
  { files: ['src/telephony/ari.ts', 'src/telephony/ami.ts', 'src/telephony/vendor.d.ts'], rules: { 'no-restricted-imports': 'off' } },
  // Migrations are frozen in time and typed against Kysely<any> by design.
  { files: ['migrations/**/*.ts'], rules: { '@typescript-eslint/no-explicit-any': 'off' } },
  { files: ['src/db/migrate.ts'], rules: { '@typescript-eslint/no-explicit-any': 'off' } },
);
