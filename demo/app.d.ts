// Types of demo/app.js, for the TypeScript tests.
import type { FastifyInstance, FastifyServerOptions } from 'fastify'
// The demo registers @fastify/cookie: its request, reply and instance methods are available.
import type {} from '@fastify/cookie'

export declare const COOKIE_NAME: string
export declare const DEMO_ANONYMIZE_SECRET: string
export declare function escapeHtml (value: unknown): string
export interface DemoOptions {
  redisUrl?: string
  realtimePort?: number
  realtimeUrl?: string
  logger?: FastifyServerOptions['logger']
  cookieSecret?: string
}
export declare function buildDemo (opts?: DemoOptions): Promise<FastifyInstance>
