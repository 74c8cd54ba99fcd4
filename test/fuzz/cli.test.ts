// Property-based fuzzing of the `userlog` command line, in process: random argument lists and
// environments either parse into a well-formed command or fail with a UsageError (exit code 2, a
// message); runCli turns every failure into that exit code and a line on stderr, never a throw.
// USERLOG_FUZZ_RUNS sets the inputs (1,000 here; `make fuzz` runs 10,000).
import t from 'tap'
import fc from 'fast-check'
import { parseCli, UsageError } from '../../src/cli/args.js'
import { runCli } from '../../src/cli/run.js'

const RUNS = Number(process.env.USERLOG_FUZZ_RUNS ?? 1000)

const word = fc.oneof(
  fc.constantFrom('realtime', 'tail', 'help', '--', '-', '--help', '-h', '-v', '--version', '--port', '--host',
    '--redis', '--path', '--origin', '--prefix', '--all', '--json', '--log-level', '--port=', '--origin=', '-hv',
    '--=x', '*'),
  fc.string({ maxLength: 30 }),
  fc.string({ unit: 'binary', maxLength: 12 })
)
const argvs = fc.array(word, { maxLength: 8 })
const envs = fc.dictionary(fc.constantFrom('REDIS_URL', 'USERLOG_ORIGINS', 'LOG_LEVEL'), fc.string())

function parses (argv: string[], env: Record<string, string>): boolean {
  try {
    parseCli(argv, env)
    return true
  } catch {
    return false
  }
}

t.test('parseCli: a well-formed command or a UsageError, nothing else', async (t) => {
  let refused = 0
  fc.assert(fc.property(argvs, envs, (argv, env) => {
    try {
      const cmd = parseCli(argv, env)
      if (cmd.command === 'realtime') {
        return Number.isInteger(cmd.port) && cmd.port >= 0 && cmd.port <= 65535 && cmd.path.startsWith('/')
      }
      if (cmd.command === 'tail') return cmd.user === null || (cmd.user !== '' && cmd.user !== '*')
      return true
    } catch (err) {
      refused++
      return err instanceof UsageError && err.message.length > 0 && err.exitCode === 2
    }
  }), { numRuns: RUNS })
  t.ok(refused > 0 && refused < RUNS, `${RUNS} random command lines, ${refused} refused with a usage error`)
})

t.test('runCli: a refused command line exits 2 with a message, without starting anything', async (t) => {
  let runs = 0
  await fc.assert(fc.asyncProperty(argvs, envs, async (argv, env) => {
    // Only command lines that do not parse: the others would start a server or connect to Redis.
    if (parses(argv, env)) return true
    runs++
    const out: string[] = []
    const err: string[] = []
    const code = await runCli(argv, env, { out: (l) => out.push(l), err: (l) => err.push(l) })
    return code === 2 && out.length === 0 && err.length === 2 && (err[1] ?? '').includes('--help')
  }), { numRuns: RUNS })
  t.ok(runs > 0, `${runs} refused command lines, each exit code 2 and a usage hint`)
})
