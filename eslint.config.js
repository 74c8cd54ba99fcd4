// Lint: typescript-eslint's recommended type-checked rules on the TypeScript sources and tests
// (they read the types through the project service, so floating promises, misused promises and
// unsafe `any` are caught), the recommended JavaScript rules elsewhere, and Fastify's own
// 120-character line limit everywhere.
import js from '@eslint/js'
import tseslint from 'typescript-eslint'
import globals from 'globals'

const lineLimit = ['error', { code: 120, ignoreUrls: true, ignoreRegExpLiterals: true }]

export default tseslint.config(
  // test/types/ imports the built package (dist/), which lint runs before; tstyche type-checks it.
  { ignores: ['dist/', 'node_modules/', '.tap/', 'coverage/', 'test-artifacts/', '.demo/', 'test/types/'] },
  js.configs.recommended,
  { rules: { 'max-len': lineLimit } },
  {
    files: ['**/*.ts'],
    extends: [tseslint.configs.recommendedTypeChecked],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'error',
      // Fastify plugins, hooks and handlers are async by contract, with or without an await inside.
      '@typescript-eslint/require-await': 'off'
    }
  },
  {
    // tap awaits every subtest itself: `t.test(...)` at the top of a file is not a floating promise.
    files: ['test/**/*.ts'],
    rules: { '@typescript-eslint/no-floating-promises': 'off' }
  },
  { files: ['public/**/*.js'], languageOptions: { globals: globals.browser, sourceType: 'module' } },
  { files: ['**/*.js', '**/*.mjs'], ignores: ['public/**'], languageOptions: { globals: globals.node } }
)
