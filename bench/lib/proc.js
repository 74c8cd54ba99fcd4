// What Linux says about a process in /proc: its CPU time.
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'

let ticks = null
function clockTicks () {
  if (ticks === null) {
    try { ticks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' })) || 100 } catch { ticks = 100 }
  }
  return ticks
}

/** User + system CPU seconds of `pid` so far (/proc/<pid>/stat), NaN when it is gone. */
export function cpuSeconds (pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // The command name (field 2) may hold spaces: count the fields after its closing parenthesis.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(fields[11]) + Number(fields[12])) / clockTicks()
  } catch {
    return NaN
  }
}
