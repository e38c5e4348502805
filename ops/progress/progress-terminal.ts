// Draws a block of lines in place on a terminal with plain ANSI cursor movement: each frame moves
// the cursor back to the block's first line, erases to the end of the screen and writes the new
// lines. Lines are cut to the terminal's width, because a wrapped line would throw the count off.
// Anything else written to the same terminal (a log line) goes through printAbove, so it lands
// above the block instead of inside it.
const ESC = '\u001b[';

export interface TerminalSize {
  columns?: number | undefined;
  rows?: number | undefined;
}

export class ProgressTerminal {
  private drawnLines = 0;
  private frame: string[] = [];
  private finished = false;

  constructor(
    private readonly write: (text: string) => void,
    private readonly size: () => TerminalSize = () => ({}),
  ) {}

  /** Replaces the block on screen with `lines`. */
  draw(lines: readonly string[]): void {
    if (this.finished) return;
    this.frame = this.fit(lines);
    this.write(`${this.erasure()}${this.render(this.frame)}`);
    this.drawnLines = this.frame.length;
  }

  /** Writes `text` (whole lines) with `writeOther` above the block, then redraws the block. */
  printAbove(text: string, writeOther: (text: string) => void): void {
    if (this.finished || this.drawnLines === 0) {
      writeOther(text);
      return;
    }
    this.write(this.erasure());
    this.drawnLines = 0;
    writeOther(text);
    this.write(this.render(this.frame));
    this.drawnLines = this.frame.length;
  }

  /** Erases the block and leaves `lines` in its place; nothing is drawn afterwards. */
  finish(lines: readonly string[]): void {
    if (this.finished) return;
    this.write(`${this.erasure()}${this.render(this.fit(lines))}`);
    this.drawnLines = 0;
    this.finished = true;
  }

  private erasure(): string {
    // Cursor is at the start of the line below the block: up to its first line, erase down.
    return this.drawnLines > 0 ? `\r${ESC}${this.drawnLines}A${ESC}J` : '';
  }

  private render(lines: readonly string[]): string {
    return lines.map((line) => `${line}\n`).join('');
  }

  private fit(lines: readonly string[]): string[] {
    const { columns, rows } = this.size();
    const kept = rows !== undefined && rows > 1 ? lines.slice(0, rows - 1) : [...lines];
    if (columns === undefined || columns < 2) return kept;
    return kept.map((line) => (line.length < columns ? line : line.slice(0, columns - 1)));
  }
}
