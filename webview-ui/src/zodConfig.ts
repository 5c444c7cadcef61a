// Imported first by main.ts: zod decides at schema construction whether to compile parsers with `new Function`, and
// the webview's CSP has no 'unsafe-eval' (even zod's caught probe would be reported as a violation).
import { config } from 'zod';

config({ jitless: true });
