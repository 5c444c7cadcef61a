// The extension host loads this file (extensionTestsPath) and awaits run(): mocha over every *.test.js beside it.
import Mocha from 'mocha';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

export function run(): Promise<void> {
	const mocha = new Mocha({ ui: 'tdd', color: false, timeout: 60_000, reporter: 'spec' });
	if (process.env.QO_TEST_GREP) mocha.grep(process.env.QO_TEST_GREP);
	// The smoke suite first: when it fails, nothing after it is worth reading.
	const files = readdirSync(__dirname)
		.filter((f) => f.endsWith('.test.js'))
		.sort((a, b) => Number(b === 'smoke.test.js') - Number(a === 'smoke.test.js') || a.localeCompare(b));
	for (const f of files) mocha.addFile(join(__dirname, f));
	return new Promise((resolve, reject) => {
		mocha.run((failures) => (failures ? reject(new Error(`${failures} integration test(s) failed`)) : resolve()));
	});
}
