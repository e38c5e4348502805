// One line typed at the terminal: the answer to a destructive command's confirmation
// (migrate/confirm-destructive.ts). Only cli/ touches process.stdin.
import { createInterface } from 'node:readline';

/** The next line on stdin, or undefined when stdin ends first (Ctrl-D). */
export function readStdinLine(): Promise<string | undefined> {
  return new Promise((resolve) => {
    // Not in terminal mode: the terminal echoes and edits the line itself, and Ctrl-C stays the
    // process's SIGINT, which ends the command before it has changed anything.
    const lines = createInterface({ input: process.stdin, terminal: false });
    let answered = false;
    lines.once('line', (line) => {
      answered = true;
      lines.close();
      resolve(line);
    });
    lines.once('close', () => {
      if (!answered) resolve(undefined);
    });
  });
}
