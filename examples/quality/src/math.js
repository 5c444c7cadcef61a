/**
 * The mean of some numbers (0 for none).
 * @param {number[]} values
 * @returns {number}
 */
export function mean(values) {
	if (values.length === 0) return 0;
	return values.reduce((sum, v) => sum + v, 0) / values.length;
}
