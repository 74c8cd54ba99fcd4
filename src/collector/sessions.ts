// Browser sessions, maintained by the write batches.
import type { Contributor } from '../batch.js'
import type { PluginContext } from '../context.js'

export function sessionContributor (_ctx: Pick<PluginContext, 'settings' | 'keys'>): Contributor | null {
  return null
}
