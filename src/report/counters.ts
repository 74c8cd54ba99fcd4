// Report counters, maintained by the write batches.
import type { Contributor } from '../batch.js'
import type { PluginContext } from '../context.js'

export function reportContributor (_ctx: Pick<PluginContext, 'settings' | 'keys'>): Contributor | null {
  return null
}
