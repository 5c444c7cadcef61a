// The core's Logger port on a LogOutputChannel: one line per message, tagged with its scope as VS Code's git does.
import type * as vscode from 'vscode';
import type { Logger, LogLevel } from '../../core/ports';

const RANK: Record<LogLevel, number> = { trace: 0, debug: 1, info: 2, warn: 3, error: 4 };

export function channelLogger(channel: vscode.LogOutputChannel, minLevel: () => LogLevel): Logger {
	return {
		log(level, scope, message) {
			if (RANK[level] < RANK[minLevel()]) return;
			const line = `[${scope}] ${message}`;
			switch (level) {
				case 'trace':
					return channel.trace(line);
				case 'debug':
					return channel.debug(line);
				case 'info':
					return channel.info(line);
				case 'warn':
					return channel.warn(line);
				case 'error':
					return channel.error(line);
			}
		},
	};
}
