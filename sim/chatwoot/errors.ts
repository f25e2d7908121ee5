/**
 * Chatwoot's error model (request_exception_handler.rb and friends). Two distinct 422 shapes
 * exist on purpose: `{"message","attributes"}` for model validation (RecordInvalid) and
 * `{"error"}` for explicit renders; clients must handle both, so the fake keeps them apart.
 */

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
    readonly contentType = 'application/json; charset=utf-8',
  ) {
    super(typeof body === 'string' ? body : JSON.stringify(body));
  }
}

/** ActiveRecord::RecordNotFound, whatever the model. */
export const notFound = (): HttpError => new HttpError(404, { error: 'Resource could not be found' });

/** `render_unauthorized(message)` and Pundit denials: always 401, never 403. */
export const unauthorized = (message: string): HttpError => new HttpError(401, { error: message });

export const notAuthorizedForAction = (): HttpError => unauthorized('You are not authorized to do this action');

/** Explicit `render json: { error: … }, status: :unprocessable_entity`. */
export const unprocessable = (message: string): HttpError => new HttpError(422, { error: message });

/** ActionController::ParameterMissing. */
export const parameterMissing = (param: string): HttpError =>
  unprocessable(`param is missing or the value is empty: ${param}`);

/**
 * Validation errors collected the way ActiveModel::Errors does: full messages in validation
 * order, attribute names de-duplicated.
 */
export class ValidationErrors {
  private readonly entries: Array<{ attribute: string; fullMessage: string }> = [];

  add(attribute: string, fullMessage: string): void {
    this.entries.push({ attribute, fullMessage });
  }

  get empty(): boolean {
    return this.entries.length === 0;
  }

  fullMessages(): string[] {
    return this.entries.map((e) => e.fullMessage);
  }

  /** RecordInvalid as rendered by the account-scoped controllers' exception handler. */
  toRecordInvalid(): HttpError {
    const attributes = [...new Set(this.entries.filter((e) => e.attribute !== 'base').map((e) => e.attribute))];
    return new HttpError(422, { message: this.fullMessages().join(', '), attributes });
  }

  /** RecordInvalid's own message, as seen when a controller rescues StandardError. */
  exceptionMessage(): string {
    return `Validation failed: ${this.fullMessages().join(', ')}`;
  }
}

/** Anything Rails doesn't map (RecordNotUnique, enum ArgumentError…): production 500. */
export const internalError = (): HttpError => new HttpError(500, { status: 500, error: 'Internal Server Error' });

/** A database unique-index violation; which HTTP answer it becomes depends on the caller's rescue. */
export class RecordNotUnique extends Error {
  constructor(detail: string) {
    super(`PG::UniqueViolation: ERROR:  duplicate key value violates unique constraint ${detail}`);
  }
}
