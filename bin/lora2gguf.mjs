#!/usr/bin/env node
// The published command. Runs the TypeScript CLI through tsx (a runtime dependency), so it works
// right after `npm install`, with no build step.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../cli/main.ts');
await main();
