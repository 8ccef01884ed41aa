/**
 * A mistake the user can fix (bad input, missing file, unknown image, refused credentials).
 * The CLI prints `error: <message>` and exits 1 without a stack trace; the action turns it into
 * an annotation pointing at `file`/`line` when they are known.
 */
export class UserError extends Error {
  /** File the problem is in, when there is one (path as the user would recognise it). */
  readonly file?: string;
  /** 1-based line in `file`, when known. */
  readonly line?: number;
  /** The image reference the problem concerns, when there is one. */
  readonly image?: string;

  constructor(message: string, where?: { file?: string; line?: number; image?: string; cause?: unknown }) {
    super(message, where?.cause === undefined ? undefined : { cause: where.cause });
    this.name = 'UserError';
    this.file = where?.file;
    this.line = where?.line;
    this.image = where?.image;
  }

  /** The same error, also naming the image it concerns. */
  forImage(image: string): UserError {
    if (this.image) return this;
    return new UserError(this.message, { file: this.file, line: this.line, image, cause: this.cause });
  }

  /** `file:line: message`, the form editors and Actions annotations understand. */
  get located(): string {
    if (!this.file) return this.message;
    return `${this.file}${this.line ? `:${this.line}` : ''}: ${this.message}`;
  }
}

/** The CLI usage mistake (exit code 2). */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export function errorMessage(err: unknown): string {
  if (err instanceof UserError) return err.located;
  if (err instanceof Error) return err.message;
  return String(err);
}
