#!/usr/bin/env node
// `npx signoff …` in a checkout: signoff ships TypeScript sources, so this launcher
// registers tsx's loader and hands over to ./signoff.ts (what `npm run signoff` runs).
import { register } from 'tsx/esm/api';

register();
await import('./signoff.ts');
