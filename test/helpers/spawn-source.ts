// A TypeScript file of this repository run in a child process, compiled on the fly by the same
// loader tap runs the tests with: a server that can be killed outright, or weighed on its own.
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { ROOT } from './demo-build.js'

const LOADER = pathToFileURL(join(ROOT, 'node_modules/@tapjs/typescript/dist/esm/import.mjs')).href

/** Runs `file` (absolute, or relative to the repository root) with `args`, from the repository root. */
export function spawnSource (
  file: string, args: string[], options: { nodeArgs?: string[], stdio?: StdioOptions } = {}
): ChildProcess {
  return spawn(process.execPath, [...(options.nodeArgs ?? []), `--import=${LOADER}`, file, ...args],
    { cwd: ROOT, stdio: options.stdio ?? ['ignore', 'inherit', 'inherit', 'ipc'] })
}
