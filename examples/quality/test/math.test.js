import assert from 'node:assert/strict';
import test from 'node:test';
import { greet } from '../src/greet.js';
import { mean } from '../src/math.js';

test('mean of numbers', () => assert.equal(mean([1, 2, 3]), 2));
test('mean of nothing is 0', () => assert.equal(mean([]), 0));
test('greets by name', () => assert.equal(greet('Ada', 9), 'Good morning, Ada!'));
