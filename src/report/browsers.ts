// What a User-Agent says: browser, OS and device type (for the user card), and the browser family
// (for the report's browser share). Parsing is bowser's (MIT, maintained); this module only maps
// its answers onto the project's few names.
//
// Families, in the order a User-Agent is tested:
// | family           | when                                                                          |
// |------------------|-------------------------------------------------------------------------------|
// | Bot              | bowser's platform "bot" (crawlers it knows), or AUTOMATION: generic crawler words, |
// |                  | headless and audit browsers, command-line and library HTTP clients (bowser has  |
// |                  | no name for these)                                                             |
// | Edge             | bowser's "Microsoft Edge" (Chromium and legacy, Android, iOS)                  |
// | Opera            | "Opera", "Opera Coast"                                                         |
// | Samsung Internet | "Samsung Internet for Android"                                                 |
// | Chrome           | "Chrome" (CriOS on iOS too), "Chromium"                                       |
// | Firefox          | "Firefox" (FxiOS on iOS too)                                                  |
// | Safari           | "Safari" (an iPhone/iPad WebKit view without the word too)                   |
// | Other            | anything else (Vivaldi, Yandex, UC Browser, Lynx…), or an empty User-Agent    |
//
// Device types: bowser's platform type, with "tv" and an unknown platform as "other".
//
// Parsing runs once per distinct User-Agent: a bounded cache (first in, first out) keeps the last
// CACHE_SIZE answers, so a flood of forged User-Agents costs parses, never memory.
import Bowser from 'bowser'

export const BROWSER_FAMILIES = [
  'Bot', 'Edge', 'Opera', 'Samsung Internet', 'Chrome', 'Firefox', 'Safari', 'Other'
] as const
export type BrowserFamily = typeof BROWSER_FAMILIES[number]

export const DEVICE_TYPES = ['desktop', 'mobile', 'tablet', 'bot', 'other'] as const
export type DeviceType = typeof DEVICE_TYPES[number]

/** A User-Agent, parsed. Names and versions are '' when the User-Agent does not say. */
export interface Agent {
  /** Index into BROWSER_FAMILIES. */
  family: number
  browser: { name: string, version: string }
  os: { name: string, version: string }
  device: DeviceType
}

/** Clients that are not people at a browser and that bowser names as nothing in particular. */
const AUTOMATION = /bot\b|bot\/|crawl|spider|slurp|headlesschrome|lighthouse|phantomjs|^curl\/|^wget\/|python-|^go-http-client|^java\/|okhttp|^axios\/|node-fetch|^undici/i

const FAMILY_OF: Record<string, BrowserFamily> = {
  'Microsoft Edge': 'Edge',
  Opera: 'Opera',
  'Opera Coast': 'Opera',
  'Samsung Internet for Android': 'Samsung Internet',
  Chrome: 'Chrome',
  Chromium: 'Chrome',
  Firefox: 'Firefox',
  Safari: 'Safari'
}

const BOT = BROWSER_FAMILIES.indexOf('Bot')
const OTHER = BROWSER_FAMILIES.indexOf('Other')
const EMPTY: Agent = Object.freeze({
  family: OTHER, browser: { name: '', version: '' }, os: { name: '', version: '' }, device: 'other'
})

/** Parses `ua` (uncached). */
export function parseAgent (ua: string): Agent {
  // bowser refuses an empty string.
  if (ua === '') return EMPTY
  const { browser, os, platform } = Bowser.parse(ua)
  const bot = platform.type === 'bot' || AUTOMATION.test(ua)
  const name = browser.name ?? ''
  const device: DeviceType = bot
    ? 'bot'
    : platform.type === 'desktop' || platform.type === 'mobile' || platform.type === 'tablet' ? platform.type : 'other'
  const family = bot ? BOT : BROWSER_FAMILIES.indexOf(FAMILY_OF[name] ?? 'Other')
  return {
    family,
    browser: { name, version: browser.version ?? '' },
    // Windows's own version ("NT 10.0") says less than its marketing name ("10").
    os: { name: os.name ?? '', version: (os.name === 'Windows' ? os.versionName : os.version) ?? '' },
    device
  }
}

/** Index into BROWSER_FAMILIES of the family of `ua` (uncached). */
export function browserIndex (ua: string): number {
  return parseAgent(ua).family
}

export function browserFamily (ua: string): BrowserFamily {
  return BROWSER_FAMILIES[browserIndex(ua)] as BrowserFamily
}

export const CACHE_SIZE = 1000

/** parseAgent with a bounded cache of the most recent distinct User-Agents. */
export class BrowserCache {
  private readonly cache = new Map<string, Agent>()
  constructor (private readonly size = CACHE_SIZE) {}

  agent (ua: string): Agent {
    const hit = this.cache.get(ua)
    if (hit !== undefined) return hit
    const agent = parseAgent(ua)
    if (this.cache.size >= this.size) this.cache.delete(this.cache.keys().next().value as string)
    this.cache.set(ua, agent)
    return agent
  }

  /** The family index of `ua`, as browserIndex. */
  index (ua: string): number { return this.agent(ua).family }

  get entries (): number { return this.cache.size }
}
