// Browser family from a User-Agent string, for the report's browser share. A deliberately small
// table: the first pattern that matches wins, so the order matters — browsers built on Chromium
// name themselves *and* Chrome (Edge, Opera, Samsung Internet), and Chrome names Safari.
//
// | order | family           | pattern (case-insensitive unless noted)                                  |
// |-------|------------------|--------------------------------------------------------------------------|
// | 1     | Bot              | bot/crawler/spider words, HeadlessChrome, Lighthouse, curl, wget, HTTP libraries |
// | 2     | Edge             | `Edg/`, `Edge/` (legacy), `EdgA/` (Android), `EdgiOS/`                   |
// | 3     | Opera            | `OPR/`, `Opera`, `OPiOS/`, `OPT/`                                        |
// | 4     | Samsung Internet | `SamsungBrowser/`                                                        |
// | 5     | Chrome           | `Chrome/`, `CriOS/` (Chrome on iOS), `Chromium/`                         |
// | 6     | Firefox          | `Firefox/`, `FxiOS/` (Firefox on iOS)                                    |
// | 7     | Safari           | `Safari/`, or an iPhone/iPad/iPod WebKit view without it                 |
// | 8     | Other            | anything else, including an empty User-Agent                             |
//
// Parsing runs once per distinct User-Agent: a bounded cache (first in, first out) keeps the last
// CACHE_SIZE answers, so a flood of forged User-Agents costs regexps, never memory.

export const BROWSER_FAMILIES = [
  'Bot', 'Edge', 'Opera', 'Samsung Internet', 'Chrome', 'Firefox', 'Safari', 'Other'
] as const
export type BrowserFamily = typeof BROWSER_FAMILIES[number]

const PATTERNS: ReadonlyArray<RegExp> = [
  /bot\b|bot\/|crawl|spider|slurp|facebookexternalhit|headlesschrome|lighthouse|^curl\/|^wget\/|python-|^go-http-client|^java\/|okhttp|^axios\/|node-fetch|^undici/i,
  /\bEdg(?:e|A|iOS)?\//,
  /\bOPR\/|\bOpera\b|\bOPiOS\/|\bOPT\//,
  /\bSamsungBrowser\//,
  /\bChrome\/|\bCriOS\/|\bChromium\//,
  /\bFirefox\/|\bFxiOS\//,
  /\bSafari\/|\((?:iPhone|iPad|iPod)\b[^)]*\) AppleWebKit\//
]
const OTHER = PATTERNS.length

/** Index into BROWSER_FAMILIES of the family of `ua` (uncached). */
export function browserIndex (ua: string): number {
  for (let i = 0; i < PATTERNS.length; i++) if ((PATTERNS[i] as RegExp).test(ua)) return i
  return OTHER
}

export function browserFamily (ua: string): BrowserFamily {
  return BROWSER_FAMILIES[browserIndex(ua)] as BrowserFamily
}

export const CACHE_SIZE = 1000

/** browserIndex with a bounded cache of the most recent distinct User-Agents. */
export class BrowserCache {
  private readonly cache = new Map<string, number>()
  constructor (private readonly size = CACHE_SIZE) {}

  index (ua: string): number {
    const hit = this.cache.get(ua)
    if (hit !== undefined) return hit
    const index = browserIndex(ua)
    if (this.cache.size >= this.size) this.cache.delete(this.cache.keys().next().value as string)
    this.cache.set(ua, index)
    return index
  }

  get entries (): number { return this.cache.size }
}
