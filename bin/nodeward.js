#!/usr/bin/env node
// Root entry so `npx nodeward` works from the repository after `npm ci && npm run build`.
await import('../cli/dist/main.js');
