/**
 * Evolution's exceptions and its Express error handler. Every exception class throws a plain
 * `{status, error, message}` object whose `message` is the array of constructor arguments (or the
 * string 'Unauthorized' for a bare 401); the handler answers
 * `{status, error, response: {message}}` with that status. Consumers parse these bodies (e.g. the
 * `exists:false` entry of a 400 for a number not on WhatsApp), so they are reproduced exactly.
 */
export class EvoError extends Error {
  constructor(
    readonly status: number,
    readonly error: string,
    readonly detail: unknown,
  ) {
    super(typeof detail === 'string' ? detail : JSON.stringify(detail));
  }

  body(): Record<string, unknown> {
    return { status: this.status, error: this.error, response: { message: this.detail ?? 'Internal Server Error' } };
  }
}

const args = (items: unknown[]): unknown => (items.length > 0 ? items : undefined);

export const badRequest = (...items: unknown[]): EvoError => new EvoError(400, 'Bad Request', args(items));
export const notFound = (...items: unknown[]): EvoError => new EvoError(404, 'Not Found', args(items));
export const forbidden = (...items: unknown[]): EvoError => new EvoError(403, 'Forbidden', args(items));
export const internal = (...items: unknown[]): EvoError => new EvoError(500, 'Internal Server Error', args(items));
export const unauthorized = (): EvoError => new EvoError(401, 'Unauthorized', 'Unauthorized');

/** An error that is not one of Evolution's exception objects: status 500, its message as-is. */
export function plainError(message: string, status = 500): EvoError {
  return new EvoError(status, 'Internal Server Error', message);
}
