#!/usr/bin/env node
'use strict';
// Thin launcher: the CLI is bundled to dist/cli.js by `npm run build` (run on install by `prepare`).
const path = require('node:path');
const fs = require('node:fs');
const bundle = path.join(__dirname, '..', 'dist', 'cli.js');
if (!fs.existsSync(bundle)) {
	process.stderr.write('qo: the CLI is not built yet. Run `npm run build` in ' + path.dirname(__dirname) + '\n');
	process.exit(2);
}
require(bundle).main(process.argv.slice(2)).then((code) => { process.exitCode = code; });
