import js from '@eslint/js';
import reactHooks from 'eslint-plugin-react-hooks';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'dist-cli/', 'node_modules/', '.tsbuild/', 'test/fixtures/', 'public/**/*', '!public/download-sw.js', 'coverage/', 'dev-dist/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.{ts,tsx}'],
    languageOptions: { globals: { ...globals.browser, ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
  {
    // The service worker's streamed-download extension (plain JavaScript, served as is).
    files: ['public/download-sw.js'],
    languageOptions: { globals: globals.serviceworker },
  },
  {
    // The benchmark's browser I/O floor (plain JavaScript, served to a dedicated worker as is).
    files: ['bench/floor-worker.js'],
    languageOptions: { globals: globals.worker },
  },
  {
    // Node scripts in plain JavaScript (the bin, the CLI bundler).
    files: ['bin/**/*.mjs', 'scripts/**/*.mjs', 'bench/**/*.mjs'],
    languageOptions: { globals: globals.node },
  },
  {
    // The command's entry and the benchmark's preloaded hook are CommonJS on purpose (see their headers).
    files: ['bin/**/*.cjs', 'bench/**/*.cjs'],
    languageOptions: { globals: globals.node, sourceType: 'commonjs' },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    files: ['src/app/**/*.{ts,tsx}'],
    plugins: { 'react-hooks': reactHooks },
    rules: reactHooks.configs.recommended.rules,
  },
  {
    // The page takes values from the core's light entry only; the converter itself runs in the
    // worker (loaded on demand), so the first screen's bundle stays small.
    files: ['src/app/**/*.{ts,tsx}', 'workers/protocol.ts'],
    ignores: ['**/*.spec.{ts,tsx}'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '(^|/)core(/index)?$',
              allowTypeImports: true,
              message: 'Import values from core/light (types may come from core): the page must not bundle the converter.',
            },
          ],
        },
      ],
    },
  },
  {
    // One direction in the app: components use state and services, never the other way round.
    files: ['src/app/state/**/*.{ts,tsx}', 'src/app/services/**/*.{ts,tsx}', 'src/app/links/**/*.{ts,tsx}'],
    ignores: ['**/*.spec.{ts,tsx}'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ group: ['**/components/**'], message: 'State, services and links must not import from components.' }] },
      ],
    },
  },
  {
    // The core is pure: no DOM, no Node built-ins.
    files: ['src/core/**/*.ts'],
    ignores: ['src/core/**/*.spec.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ group: ['node:*', 'fs', 'path', 'os', 'react', 'react-dom'], message: 'src/core is pure: no Node or DOM imports.' }] },
      ],
    },
  },
);
