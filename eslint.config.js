// Lint: typescript-eslint's recommended rules (syntax-based, fast) plus the house rules of STYLE.md.
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', 'bundles/**', 'coverage/**', '**/*.c', 'fleet-sim/dashboard/static/**', '.murmur-tmp/**'] }, // .murmur-tmp: git-ignored scratch (test builds, a developer's scripts)
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'off',
      eqeqeq: ['error', 'always'],
      'prefer-const': 'error',
    },
  },
);
