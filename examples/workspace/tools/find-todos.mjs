#!/usr/bin/env node
// The todo-finder agent's command: `node tools/find-todos.mjs -- PROMPT [FILE...]` lists the TODO and FIXME notes in comments.
import fs from 'node:fs';
import path from 'node:path';

const args = process.argv.slice(2);
if (args[0] === '--') args.shift();
const [prompt = '', ...files] = args;
const SKIP = new Set(['node_modules', '.git', '.quantum', 'out', 'scratch']);

function walk(dir, out) {
	for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
		if (SKIP.has(entry.name)) continue;
		const full = path.join(dir, entry.name);
		if (entry.isDirectory()) walk(full, out);
		else if (entry.isFile()) out.push(path.relative('.', full));
	}
	return out;
}

const targets = files.length ? files : walk('.', []);
let found = 0;
console.log(`task: ${prompt || '(none)'}`);
for (const file of targets) {
	let text;
	try {
		text = fs.readFileSync(file, 'utf8');
	} catch (err) {
		console.error(`${file}: cannot read (${err.code || err.message})`);
		continue;
	}
	text.split(/\r?\n/).forEach((line, i) => {
		const m = /(?:\/\/|#|\/\*|\*|<!--|--)\s*(TODO|FIXME)\b[:\s]*(.*)/.exec(line);
		if (m) {
			found++;
			console.log(`${file}:${i + 1}: ${m[1]} ${m[2].trim()}`);
		}
	});
}
console.log(`${found} note${found === 1 ? '' : 's'} in ${targets.length} file${targets.length === 1 ? '' : 's'}`);
