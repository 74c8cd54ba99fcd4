#!/usr/bin/env node
// The `userlog` command: `userlog --help`, `userlog realtime`, `userlog tail <user>`.
import { runCli, type Running } from './run.js'

const SHUTDOWN_LIMIT_MS = 10_000

const io = {
  out: (line: string) => { process.stdout.write(line + '\n') },
  err: (line: string) => { process.stderr.write(line + '\n') }
}

function stopOnSignals (running: Running): void {
  let stopping = false
  const stop = (): void => {
    if (stopping) {
      // A second Ctrl-C: do not wait any longer.
      process.exit(130)
    }
    stopping = true
    const limit = setTimeout(() => {
      io.err(`userlog ${running.command}: shutdown took more than ${SHUTDOWN_LIMIT_MS / 1000} s; exiting`)
      process.exit(1)
    }, SHUTDOWN_LIMIT_MS)
    limit.unref()
    running.close().then(() => {
      process.exit(0)
    }, (err: unknown) => {
      const message = err instanceof Error ? err.message : String(err)
      io.err(`userlog ${running.command}: error while shutting down: ${message}`)
      process.exit(1)
    })
  }
  process.on('SIGINT', stop)
  process.on('SIGTERM', stop)
}

try {
  const result = await runCli(process.argv.slice(2), process.env, io)
  if (typeof result === 'number') process.exitCode = result
  else stopOnSignals(result)
} catch (err) {
  io.err(`userlog: ${err instanceof Error ? err.message : String(err)}`)
  process.exitCode = 1
}
