/** Prints the demo's steps with the time since the start, and keeps them for the summary. */
export class Timeline {
  private readonly start = Date.now();
  readonly marks: { at: number; text: string }[] = [];

  constructor(private readonly out: (line: string) => void) {}

  elapsed(): number {
    return (Date.now() - this.start) / 1000;
  }

  step(text: string): void {
    const at = this.elapsed();
    this.marks.push({ at, text });
    this.out(`[t+${at.toFixed(1).padStart(6)}s] ${text}`);
  }

  show(title: string, body: string): void {
    this.out(`\n  $ ${title}\n${body.trimEnd().split('\n').map((l) => `    ${l}`).join('\n')}\n`);
  }
}

/** Seconds between two moments, for "detected in 1.4 s" lines. */
export const since = (t0: number): string => `${((Date.now() - t0) / 1000).toFixed(2)} s`;
