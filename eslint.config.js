// Lint configuration (ESLint flat config). `npm run lint` runs this and `prettier --check`; `npm test` runs lint
// before the suite. Lint reads the sources only: dist/ is ignored and the type-aware rules get their types from
// tsconfig.json through the project service, so no build is needed first.
import eslint from '@eslint/js';
import { defineConfig } from 'eslint/config';
import tseslint from 'typescript-eslint';

export default defineConfig(
  { ignores: ['dist/', 'docs/api/', 'bench/work/', 'fixtures/*', '!fixtures/generate.ts'] },
  eslint.configs.recommended,
  tseslint.configs.recommended,
  {
    rules: {
      // A leading underscore marks a binding that must exist (an interface's parameter, a destructured slot
      // skipped on purpose, a field dropped from a rest copy); tsconfig's noUnused* follow the same rule.
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_', ignoreRestSiblings: true }],
    },
  },
  {
    // CommonJS sources (build/undici-lite.cjs): Node's CommonJS globals, and require() is how they import.
    files: ['**/*.cjs'],
    languageOptions: { sourceType: 'commonjs', globals: { require: 'readonly', module: 'writable', __dirname: 'readonly' } },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    files: ['**/*.ts'],
    extends: [tseslint.configs.recommendedTypeChecked],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      // node:test's test()/describe() return promises the runner itself awaits.
      '@typescript-eslint/no-floating-promises': ['error', { allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['test', 'it', 'describe', 'suite'] }] }],
      // GiveUp (registry retries) and BreakSignal (template range loops) are control-flow values, caught by
      // their own code and never surfaced; a rethrown caught value is thrown as it came.
      '@typescript-eslint/only-throw-error': ['error', { allow: [{ from: 'file', name: ['GiveUp', 'BreakSignal'] }], allowRethrowing: true }],
      // A rejection that forwards a caught `unknown` passes on what was thrown, as it came.
      '@typescript-eslint/prefer-promise-reject-errors': ['error', { allowThrowingUnknown: true }],
      // References and other values with their own toString() are interpolated on purpose; no-base-to-string
      // still catches an object that would print as [object Object].
      '@typescript-eslint/restrict-template-expressions': 'off',
      // An async method with no await keeps an interface's Promise contract and turns a throw into a rejection.
      '@typescript-eslint/require-await': 'off',
    },
  },
  {
    // Tests poke at parsed JSON and peers' output as `any` and assert on it; type-safety rules about `any`
    // would only add casts there. The promise rules above still apply.
    files: ['test/**/*.ts'],
    rules: {
      // The tests' regular expressions with control characters assert that none reach a terminal (or that an
      // escape sequence does, on a TTY).
      'no-control-regex': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
    },
  },
);
