// Deliberately a little untidy: eslint warns here (an unused variable, ==, a let never reassigned), nothing fails.
/**
 * @param {string} name
 * @param {number} hour
 * @returns {string}
 */
export function greet(name, hour) {
	const unused = 'kept for the example';
	let greeting = hour < 12 ? 'Good morning' : 'Hello';
	if (name == '') return `${greeting}!`;
	return `${greeting}, ${name}!`;
}
