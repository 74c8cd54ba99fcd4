// Types of demo/seed.js, for the TypeScript tests.
import type { FastifyInstance } from 'fastify'

export declare function loginCookie (app: FastifyInstance, user: string): Promise<string>
export declare function seed (app: FastifyInstance): Promise<number>
