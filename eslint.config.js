import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const nodeBuiltins = ['node:*', 'fs', 'path', 'os', 'child_process', 'worker_threads', 'crypto', 'net', 'http'];

export default tseslint.config(
  { ignores: ['dist/**', 'release/**', 'node_modules/**', 'test-results/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly', Buffer: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  // Layering: the engine is plain Node and never touches Electron or the UI.
  {
    files: ['src-main/engine/**/*.ts', 'src-main/practice/**/*.ts', 'src-main/cli/**/*.ts', 'src-main/server/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['electron', 'electron/*'], message: 'The engine runs without Electron (CLI, tests, serve).' },
            { group: ['react', 'react-dom', 'zustand', '**/src-renderer/**'], message: 'No UI code in the engine.' },
            { group: ['**/main/*', '**/preload/*'], message: 'The engine does not import the Electron side.' },
          ],
        },
      ],
    },
  },
  // The contract is shared with the renderer: no Node, no Electron.
  {
    files: ['src-main/shared/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ group: [...nodeBuiltins, 'electron'], message: 'The contract is imported by the renderer.' }] },
      ],
    },
  },
  // The renderer is untrusted browser code: no Node, no Electron, no engine implementation.
  {
    files: ['src-renderer/**/*.{ts,tsx}'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: [...nodeBuiltins, 'electron'], message: 'The renderer is sandboxed: use window.recovery.' },
            {
              regex: 'src-main/(?!shared/|engine/runbook/types|engine/errors|engine/progress)',
              message: 'The renderer may only import the contract (src-main/shared) and engine types.',
            },
          ],
        },
      ],
    },
  },
);
