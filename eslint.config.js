// Lint: typescript-eslint's recommended type-aware rules on the TypeScript sources,
// the recommended JavaScript rules on the browser files in public/.
import js from '@eslint/js'
import tseslint from 'typescript-eslint'
import globals from 'globals'

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', '.tap/', 'coverage/', 'test-artifacts/', '.demo/'] },
  js.configs.recommended,
  {
    files: ['**/*.ts'],
    extends: [tseslint.configs.recommended],
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'error'
    }
  },
  { files: ['public/**/*.js'], languageOptions: { globals: globals.browser, sourceType: 'module' } },
  { files: ['**/*.js', '**/*.mjs'], ignores: ['public/**'], languageOptions: { globals: globals.node } }
)
