#!/usr/bin/env node
// Shim so `npm link`/`npx pgferry` run the compiled CLI; build with `npm run build` first.
import '../dist/cli/main.js';
