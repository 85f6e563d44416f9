#!/usr/bin/env node
// The `pbx` command: runs the compiled CLI (npm run build).
import('../dist/src/cli.js');
