// User names and the browser the benchmarks' load comes from.

/**
 * The User-Agent of a current desktop Chrome. Every benchmark request carries one, as real traffic
 * does: the plugin stores it with each request entry, so it is most of an entry's bytes.
 */
export const BROWSER_UA = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) ' +
  'Chrome/131.0.0.0 Safari/537.36'

/** The "1,000 users" load: user0000 … user0999. */
export const THOUSAND_USERS = Array.from({ length: 1000 }, (_, i) => `user${String(i).padStart(4, '0')}`)

/** `n` draws from a Zipf distribution (s = 1) over `users` names, from a fixed seed (the same every run). */
export function zipf (users, n) {
  const weights = Array.from({ length: users }, (_, k) => 1 / (k + 1))
  const total = weights.reduce((a, b) => a + b, 0)
  const cumulative = []
  let acc = 0
  for (const w of weights) cumulative.push(acc += w / total)
  let seed = 42
  const random = () => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed / 2147483648 }
  const out = []
  for (let i = 0; i < n; i++) {
    const r = random()
    let lo = 0
    let hi = users - 1
    while (lo < hi) { const mid = (lo + hi) >> 1; if (cumulative[mid] < r) lo = mid + 1; else hi = mid }
    out.push(`z${String(lo).padStart(5, '0')}`)
  }
  return out
}
