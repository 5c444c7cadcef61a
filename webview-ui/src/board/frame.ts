// Batches DOM work into animation frames: any number of messages between two frames cost one render.

/** Per-frame time for drawing chips; the rest of the frame is left to style, layout and paint. */
export const FRAME_BUDGET_MS = 8;

export class FrameLoop {
	private scheduled = false;

	/** `work` gets the frame's deadline and returns true when it has more to do. */
	constructor(private readonly work: (deadline: number) => boolean) {}

	request(): void {
		if (this.scheduled) return;
		this.scheduled = true;
		requestAnimationFrame(() => {
			this.scheduled = false;
			this.run();
		});
	}

	/** Runs the pending work now (tests, and measuring); a later frame still picks up what remains. */
	run(budgetMs = FRAME_BUDGET_MS): void {
		if (this.work(performance.now() + budgetMs)) this.request();
	}
}
