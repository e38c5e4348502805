// How much PostgreSQL text one message may turn into. Each value is bounded on its own (a decimal
// by numeric's limits), but a value that takes 3 bytes may legitimately be 16385 characters long
// (numeric 1e-16383), so a message of many of them — or an array of them — would multiply its size
// thousands of times. The budget is a fixed allowance, which legitimate extreme values fit in,
// plus a multiple of the message's bytes above every ordinary expansion (bit strings are 8×).
import { MessageBoundsError } from './message-bounds-error.js';

/** Characters any message may convert to, however small. */
export const TEXT_ALLOWANCE = 64 * 1024;
/** Characters per byte of the message on top of the allowance. */
export const TEXT_PER_MESSAGE_BYTE = 16;

export class TextBudget {
  private left = 0;
  private bytes = 0;

  constructor(messageBytes: number) {
    this.reset(messageBytes);
  }

  /** The message's bytes, which set the allowance. */
  get messageBytes(): number {
    return this.bytes;
  }

  /** The whole allowance again, for the next message of `messageBytes` (one budget, reused). */
  reset(messageBytes: number): this {
    this.bytes = messageBytes;
    this.left = TEXT_ALLOWANCE + TEXT_PER_MESSAGE_BYTE * messageBytes;
    return this;
  }

  /** Refuses the message when `length` more characters would not fit; does not spend them. */
  ensure(length: number): void {
    if (length > this.left) {
      throw new MessageBoundsError(
        `a message of ${this.messageBytes} bytes converts to more than ${TEXT_ALLOWANCE + TEXT_PER_MESSAGE_BYTE * this.messageBytes} characters of PostgreSQL text`,
      );
    }
  }

  /** Spends what a converted value takes. */
  spend(text: string): string {
    this.ensure(text.length);
    this.left -= text.length;
    return text;
  }
}
