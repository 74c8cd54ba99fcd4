// What `userlog` does with its arguments, apart from the process itself (signals, exit codes):
// main.ts wires this to the process; tests call it directly.
import { readFileSync } from 'node:fs'
import { HELP, UsageError, parseCli } from './args.js'
import { startRealtime } from './realtime.js'
import { startTail, type Output } from './tail.js'

/** A long-running command: stop it with close(). */
export interface Running {
  command: 'realtime' | 'tail'
  /** Where the realtime server listens, e.g. http://127.0.0.1:8080 (realtime only). */
  address?: string
  close: () => Promise<void>
}

export function version (): string {
  try {
    const text = readFileSync(new URL('../../package.json', import.meta.url), 'utf8')
    const pkg = JSON.parse(text) as { version?: unknown }
    return typeof pkg.version === 'string' ? pkg.version : 'unknown'
  } catch {
    return 'unknown'
  }
}

/** Runs `userlog <argv>`: resolves with an exit code, or with a running server / tail. */
export async function runCli (
  argv: readonly string[], env: Record<string, string | undefined>, io: Output
): Promise<number | Running> {
  let cmd
  try {
    cmd = parseCli(argv, env)
  } catch (err) {
    if (!(err instanceof UsageError)) throw err
    io.err(err.message)
    io.err(`Run "userlog ${err.topic === 'main' ? '' : err.topic + ' '}--help" for usage.`)
    return err.exitCode
  }
  switch (cmd.command) {
    case 'help':
      io.out(HELP[cmd.topic].trimEnd())
      return 0
    case 'version':
      io.out(version())
      return 0
    case 'realtime': {
      const app = await startRealtime(cmd)
      const addr = app.server.address()
      const address = typeof addr === 'object' && addr !== null
        ? `http://${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}`
        : String(addr)
      return {
        command: 'realtime',
        address,
        close: async () => {
          app.log.info({}, 'userlog realtime: shutting down (viewers are closed with 1001)')
          await app.close()
        }
      }
    }
    case 'tail': {
      const tail = await startTail(cmd, io)
      return { command: 'tail', close: tail.close }
    }
  }
}
