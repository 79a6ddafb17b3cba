/** placeholder */
import type { Command } from './command.js';
export const syncCommand: Command = { name: 'sync', summary: 'x', usage: 'x', help: '', flags: {}, run: async () => 0 };
