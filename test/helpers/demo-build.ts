// The demo runs the compiled plugin (dist/). Tests that use it build it first if it is missing;
// a lock directory keeps two test files from compiling into dist/ at the same time.
import { execFile } from 'node:child_process'
import { existsSync, mkdirSync, rmSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { setTimeout as sleep } from 'node:timers/promises'

export const ROOT = fileURLToPath(new URL('../..', import.meta.url))
export const DIST_INDEX = join(ROOT, 'dist', 'index.js')
export const REALTIME_CLI = join(ROOT, 'dist', 'cli', 'main.js')
const LOCK = join(ROOT, '.demo', 'build.lock')

export async function ensureBuilt (): Promise<void> {
  mkdirSync(join(ROOT, '.demo'), { recursive: true })
  for (let i = 0; i < 1200; i++) {
    if (existsSync(DIST_INDEX)) return
    try {
      mkdirSync(LOCK)
    } catch {
      await sleep(100)
      continue
    }
    try {
      if (!existsSync(DIST_INDEX)) {
        const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc')
        await promisify(execFile)(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: ROOT })
      }
      return
    } finally {
      rmSync(LOCK, { recursive: true, force: true })
    }
  }
  throw new Error(`dist/index.js did not appear within 120 s (is ${LOCK} left over from a killed run?)`)
}
