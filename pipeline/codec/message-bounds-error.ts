// The typed error of a message that claims more than it holds: a length, count, scale or size read
// from its bytes is beyond what those bytes (or PostgreSQL) could hold. Such a message is corrupt
// or hostile; it is refused before anything is allocated for it and goes to the dead-letter topic.
import { PoisonMessageError } from '../../core/errors.js';

export class MessageBoundsError extends PoisonMessageError {}
